module github.com/meshgate/meshgate

go 1.24
