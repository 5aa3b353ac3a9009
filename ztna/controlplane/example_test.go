package controlplane_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gonaut/gonaut/ztna/controlplane"
)

// A gateway registers with the token created in the console, pulls its
// configuration and reports what it decided.
func Example() {
	// A stand-in console, so that the example runs on its own.
	console := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cp/v1/register":
			json.NewEncoder(w).Encode(controlplane.Credential{GatewayID: "g_1", Secret: "s3cret"})
		case "/cp/v1/bundle":
			json.NewEncoder(w).Encode(controlplane.Bundle{Version: 7, Resources: []controlplane.Resource{{Name: "wiki", Kind: "http"}}})
		case "/cp/v1/events":
			var b controlplane.EventBatch
			json.NewDecoder(r.Body).Decode(&b)
			json.NewEncoder(w).Encode(controlplane.EventAck{Accepted: len(b.Events)})
		}
	}))
	defer console.Close()

	ctx := context.Background()
	c, err := controlplane.New(console.URL, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	cred, _ := c.Register(ctx, "gwt_from_the_console", "edge-1")
	b, _ := c.Bundle(ctx, 0, 0)
	fmt.Println(cred.GatewayID, b.Version, b.Resources[0].Name)

	c.Emit(controlplane.Event{Kind: "decision", Subject: "ada@example.com", Resource: "wiki", Effect: "allow"})
	if err := c.Flush(ctx); err != nil {
		panic(err)
	}
	n, _ := c.Pending()
	fmt.Println("pending after flush:", n)
	// Output:
	// g_1 7 wiki
	// pending after flush: 0
}
