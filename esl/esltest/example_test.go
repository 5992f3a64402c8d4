package esltest_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net"

	"github.com/dialerd/dialerd/esl/esltest"
)

// A busy destination, driven over a raw connection. In a test, use
// esltest.Start(t, ...) instead of New, Start and Close.
func Example() {
	s := esltest.New(esltest.Options{})
	if err := s.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	s.Script("15551230001", esltest.Busy())

	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	read := func() esltest.Frame {
		f, err := esltest.ReadFrame(br)
		if err != nil {
			log.Fatal(err)
		}
		return f
	}
	read() // auth/request
	fmt.Fprint(nc, "auth ClueCon\n\nevent plain BACKGROUND_JOB\n\n")
	read()
	read()
	fmt.Fprint(nc, "bgapi originate {origination_uuid=0f1e2d3c-4b5a-4697-8877-665544332211}"+
		"sofia/gateway/carrier/15551230001 &park()\nJob-UUID: example-job\n\n")
	fmt.Println(read().Get("Reply-Text"))
	ev, err := esltest.ParseEventPlain(read().Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %s %q\n", ev.Name(), ev.Get("Job-UUID"), ev.Body)
	fmt.Println(s.Originates()[0].Destination)
	// Output:
	// +OK Job-UUID: example-job
	// BACKGROUND_JOB example-job "-ERR USER_BUSY\n"
	// 15551230001
}
