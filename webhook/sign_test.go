package webhook

import (
	"strings"
	"testing"
)

// TestSignSpecExample is the example of the Standard Webhooks
// specification's libraries (also what the standardwebhooks npm package
// signs for it).
func TestSignSpecExample(t *testing.T) {
	key, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Sign([]Secret{key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %q, want %q", got, want)
	}
}

// TestSignEachSecret: with several secrets (rotation) every one signs,
// space-separated, in order.
func TestSignEachSecret(t *testing.T) {
	a, _ := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	b, _ := ParseSecret("whsec_" + strings.Repeat("QUJD", 8))
	one := Sign([]Secret{a}, "msg_1", 10, []byte("{}"))
	other := Sign([]Secret{b}, "msg_1", 10, []byte("{}"))
	if got := Sign([]Secret{a, b}, "msg_1", 10, []byte("{}")); got != one+" "+other {
		t.Fatalf("two secrets sign %q, want %q", got, one+" "+other)
	}
}

func TestParseSecret(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ""},
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", `starts with "whsec_"`},
		{"whsec_not*base64", "not base64"},
		{"whsec_QUJD", "3 bytes"},
		{"whsec_" + strings.Repeat("QUJD", 22), "66 bytes"},
	} {
		_, err := ParseSecret(tc.in)
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ParseSecret(%q) = %v, want %q", tc.in, err, tc.err)
		}
	}
}
