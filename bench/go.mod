module github.com/gonaut/gonaut/bench

go 1.26.0

require github.com/gonaut/gonaut v0.0.0

replace github.com/gonaut/gonaut => ../
