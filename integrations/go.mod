module github.com/ezansiedgeai/ezedge-host/integrations

go 1.26.8
