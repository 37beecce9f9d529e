package data

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/compiler"
)

func TestParity(t *testing.T) {
	off := writeFile(t, "off.csv", "id,x,s\n1,1.0,a\n2,2.0,b\n3,3.0,c\n4,4.0,d\n4,9,dup\n")
	on := writeFile(t, "on.csv", "s,id,x\na,1,1.0000001\nB,2,2.5\nc,3,\ne,5,5\n")
	for _, tc := range []struct {
		name string
		opts ParityOptions
		want map[string][2]int // feature → compared, mismatches
	}{
		// x: row 1 within 1e-6 relative, row 2 differs, row 3 null online; s: row 2 differs by case.
		{"all shared columns", ParityOptions{Key: "id"}, map[string][2]int{"x": {3, 2}, "s": {3, 1}}},
		{"tight tolerance", ParityOptions{Key: "id", Tolerance: 1e-9}, map[string][2]int{"x": {3, 3}, "s": {3, 1}}},
		{"declared features", ParityOptions{Key: "id", Features: map[string]*compiler.Feature{"x": {Name: "x", DType: "float"}}},
			map[string][2]int{"x": {3, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Parity(off, on, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OfflineRows != 5 || rep.OnlineRows != 4 || rep.Joined != 3 || rep.MissingOnline != 1 || rep.MissingOffline != 1 || rep.DuplicateKeys != 1 {
				t.Errorf("counts: %+v", rep)
			}
			if len(rep.Features) != len(tc.want) {
				t.Fatalf("features %d, want %d", len(rep.Features), len(tc.want))
			}
			for _, f := range rep.Features {
				w := tc.want[f.Feature]
				if f.Compared != w[0] || f.Mismatches != w[1] {
					t.Errorf("%s: compared %d mismatches %d, want %v", f.Feature, f.Compared, f.Mismatches, w)
				}
			}
		})
	}
	rep, _ := Parity(off, on, ParityOptions{Key: "id"})
	if rep.MaxMismatchShare != 2.0/3 || strings.Join(rep.MissingKeys, ";") != "online lacks 4;offline lacks 5" {
		t.Errorf("share %g missing %v", rep.MaxMismatchShare, rep.MissingKeys)
	}
	if _, err := Parity(off, on, ParityOptions{Key: "nope"}); err == nil || !strings.Contains(err.Error(), `column "nope" not found`) {
		t.Errorf("bad key err = %v", err)
	}
	nullKey := writeFile(t, "nk.csv", "id,x\n1,1\n,2\n")
	if _, err := Parity(nullKey, on, ParityOptions{Key: "id"}); err == nil || !strings.Contains(err.Error(), `nk.csv:3: row 2: the key column "id" is null`) {
		t.Errorf("null key err = %v", err)
	}
}

func TestParityFraudFixtures(t *testing.T) {
	rep, err := Parity(fixtures+"/fraud_current.parquet", fixtures+"/fraud_online.csv", ParityOptions{Key: "transaction-id", Features: fraudFeatures()})
	if err != nil {
		t.Fatal(err)
	}
	// fixturegen: 990 served rows minus 5 never served; every 50th amount rounded.
	if rep.Joined != 985 || rep.MissingOnline != 15 || rep.MissingOffline != 0 {
		t.Errorf("joined %d missing %d/%d", rep.Joined, rep.MissingOnline, rep.MissingOffline)
	}
	for _, f := range rep.Features {
		if (f.Mismatches > 0) != (f.Feature == "txn-amount") {
			t.Errorf("%s: %d mismatches", f.Feature, f.Mismatches)
		}
	}
}

func TestEvidenceRecords(t *testing.T) {
	ctx := context.Background()
	st := NewMemStore()
	ref, cur := smallDrift(t, ".csv")
	m, fs := smallModel("psi")
	res, err := Drift(m, fs, ref, cur, DriftOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := RecordDrift(ctx, st, res); err != nil {
		t.Fatal(err)
	}
	got, err := LatestDrift(ctx, st, "m")
	if err != nil || got == nil || got.EvidenceID != res.EvidenceID || !got.Drifted {
		t.Fatalf("latest = %+v, %v", got, err)
	}
	if none, err := LatestDrift(ctx, st, "other"); none != nil || err != nil {
		t.Errorf("unknown model: %v %v", none, err)
	}
	if keys := st.Keys(KindDrift); len(keys) != 1 || keys[0] != "m/"+res.EvidenceID {
		t.Errorf("keys %v", keys)
	}
	if err := RecordValidation(ctx, st, &Report{}, "test", time.Now()); err == nil {
		t.Errorf("a report without fingerprint was recorded")
	}
	ok, _ := st.PutRecordOnce(ctx, "k", "a", []byte("1"))
	again, _ := st.PutRecordOnce(ctx, "k", "a", []byte("2"))
	v, _, _ := st.GetRecord(ctx, "k", "a")
	if !ok || again || string(v) != "1" {
		t.Errorf("PutRecordOnce: %v %v %s", ok, again, v)
	}
}
