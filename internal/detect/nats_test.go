package detect

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const natsAddr = "127.0.0.1:4222"

// TestNATSTwoDetectorsShareConsumer: two detectors on one stream and one
// durable pull consumer; every event is matched by exactly one of them.
func TestNATSTwoDetectorsShareConsumer(t *testing.T) {
	if c, err := net.DialTimeout("tcp", natsAddr, time.Second); err != nil {
		t.Skipf("NATS JetStream not reachable at %s (%v); skipping the NATS end-to-end test", natsAddr, err)
	} else {
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	stream, subject := "JCDETECT_TEST_"+run, "jointcell.test.events."+run

	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = js.DeleteStream(context.Background(), stream) }()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subject}}); err != nil {
		t.Fatal(err)
	}

	const n = 400
	ix := NewIndex(compileEq, IndexConfig{}, nil)
	var inds []Indicator
	for i := 0; i < n; i++ {
		inds = append(inds, mustIndicator(indicatorJSON(fmt.Sprintf("indicator--%08x-0000-4000-8000-000000000000", i),
			fmt.Sprintf("[ipv4-addr:value = '10.7.%d.%d']", i/256, i%256), "2024-01-01T00:00:00.000Z", nil)))
	}
	ix.Update(inds)
	for i := 0; i < n; i++ {
		line := fmt.Sprintf(`{"@timestamp":"2025-01-01T00:00:00Z","source":{"ip":"10.7.%d.%d"}}`, i/256, i%256)
		if _, err := js.Publish(ctx, subject, []byte(line)); err != nil {
			t.Fatal(err)
		}
	}

	dctx, dcancel := context.WithCancel(ctx)
	var cols [2]collector
	var dets [2]*Detector
	var aggs [2]*Aggregator
	var wg sync.WaitGroup
	for k := 0; k < 2; k++ {
		aggs[k] = NewAggregator(AggregatorConfig{}, cols[k].emit)
		d, err := NewDetector(Config{Format: FormatECS, Workers: 2}, ix, aggs[k], nil)
		if err != nil {
			t.Fatal(err)
		}
		dets[k] = d
		src := &NATSSource{URL: "nats://" + natsAddr, Subject: subject, Stream: stream, Consumer: "jointcell-detect-test", Fetch: 16}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Run(dctx, src); err != nil {
				t.Error(err)
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for dets[0].Stats().Events+dets[1].Stats().Events < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	// Let any duplicate delivery show up before stopping.
	time.Sleep(300 * time.Millisecond)
	dcancel()
	wg.Wait()
	seen := map[string]int{}
	for k := 0; k < 2; k++ {
		if err := aggs[k].Flush(); err != nil {
			t.Fatal(err)
		}
		for _, s := range cols[k].ofType("sighting") {
			seen[s["sighting_of_ref"].(string)] += int(s["count"].(float64))
		}
	}
	e0, e1 := dets[0].Stats().Events, dets[1].Stats().Events
	if e0+e1 != n {
		t.Fatalf("events handled %d + %d, want %d in total", e0, e1, n)
	}
	if len(seen) != n {
		t.Fatalf("%d indicators sighted, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s sighted %d times", id, c)
		}
	}
	// Every message was acknowledged: nothing left pending on the consumer.
	cons, err := js.Consumer(ctx, stream, "jointcell-detect-test")
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.NumPending != 0 {
		t.Errorf("consumer has %d unacknowledged and %d undelivered messages", info.NumAckPending, info.NumPending)
	}
	t.Logf("detector 1 handled %d events, detector 2 %d", e0, e1)
}
