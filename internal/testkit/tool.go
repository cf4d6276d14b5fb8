package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Tool finds a program a test drives (coturn's clients, promtool). Without
// it the test is skipped, so `go test` works on a bare machine; `make test`
// installs the tools (scripts/install-deps.sh) and sets REQUIRE_TEST_TOOLS,
// under which a missing tool fails the test instead of letting its checks
// silently vanish.
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("%s not found: this test needs Debian's %s package (make deps, or apt-get install %s)", name, debianPackage, debianPackage)
		if os.Getenv("REQUIRE_TEST_TOOLS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}
