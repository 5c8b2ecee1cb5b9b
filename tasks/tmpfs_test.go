package tasks

import (
	"os"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// TestMain keeps the tests' temporary roots on a tmpfs (fixture.OnTmpfs).
func TestMain(m *testing.M) { os.Exit(fixture.Main(m)) }
