// A test identity provider: oidc-provider (the OpenID Certified Node.js
// provider) with the clients and accounts the Go test gives in the
// environment, and an interaction route that signs in the account named
// by the "account" query parameter without a form.
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OIDC_CLIENTS);
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS);

const provider = new Provider(issuer, {
  clients,
  cookies: { keys: ['gonaut test provider'] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  // The ID token carries the claims (not only the userinfo endpoint),
  // amr among them.
  conformIdTokenClaims: false,
  claims: { openid: ['sub', 'amr'], email: ['email', 'email_verified'], profile: ['name'] },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (ctx, id) => {
    const a = accounts[id];
    if (!a) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, email: a.email, email_verified: a.email_verified, name: a.name }) };
  },
  // Every client is granted what it asks for: there is no consent page.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});

const callback = provider.callback();
http.createServer(async (req, res) => {
  const u = new URL(req.url, issuer);
  if (u.pathname.startsWith('/interaction/')) {
    try {
      const id = u.searchParams.get('account');
      const a = accounts[id];
      if (!a) { res.statusCode = 400; res.end('unknown account'); return; }
      await provider.interactionFinished(req, res, { login: { accountId: id, amr: a.amr || ['pwd'] } }, { mergeWithLastSubmission: false });
    } catch (err) {
      res.statusCode = 500; res.end(String(err));
    }
    return;
  }
  callback(req, res);
}).listen(port, '127.0.0.1', () => console.log('listening ' + issuer));
