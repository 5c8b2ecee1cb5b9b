module github.com/ezansiedgeai/ezedge-host/dist/images

go 1.26.8
