package main

/*
#include <stdint.h>
*/
import "C"

import (
	"os"
	"runtime/pprof"
	"sync"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Go profiles of the engine (runtime/pprof), for finding where a job's time and memory
// go: `go tool pprof <profile>` reads them. Python starts them from RIVERBED_CPUPROFILE /
// RIVERBED_HEAPPROFILE (docs/architecture.md, "Profiling"); `make profile Q=q5` uses them.

var cpuProfile struct {
	sync.Mutex
	f *os.File
}

//export rb_cpu_profile_start
func rb_cpu_profile_start(path *C.char, errOut **C.char) C.int32_t {
	return callPure(errOut, func() error {
		cpuProfile.Lock()
		defer cpuProfile.Unlock()
		if cpuProfile.f != nil {
			return rberr.New(rberr.InvalidArgument, "a CPU profile is already being written to %s", cpuProfile.f.Name())
		}
		name := C.GoString(path)
		f, err := os.Create(name)
		if err != nil {
			return rberr.Wrap(rberr.IO, err, "CPU profile %s", name)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			os.Remove(name)
			return rberr.Wrap(rberr.InvalidArgument, err, "CPU profile %s", name)
		}
		cpuProfile.f = f
		return nil
	})
}

//export rb_cpu_profile_stop
func rb_cpu_profile_stop(errOut **C.char) C.int32_t {
	return callPure(errOut, func() error {
		cpuProfile.Lock()
		defer cpuProfile.Unlock()
		if cpuProfile.f == nil {
			return nil
		}
		pprof.StopCPUProfile()
		f := cpuProfile.f
		cpuProfile.f = nil
		if err := f.Close(); err != nil {
			return rberr.Wrap(rberr.IO, err, "CPU profile %s", f.Name())
		}
		return nil
	})
}

// rb_write_profile writes the named runtime/pprof profile ("heap", "allocs", "goroutine",
// ...) to path.
//
//export rb_write_profile
func rb_write_profile(kind, path *C.char, errOut **C.char) C.int32_t {
	return callPure(errOut, func() error {
		k, name := C.GoString(kind), C.GoString(path)
		p := pprof.Lookup(k)
		if p == nil {
			return rberr.New(rberr.InvalidArgument, "no profile named %q (heap, allocs, goroutine, threadcreate, block, mutex)", k)
		}
		f, err := os.Create(name)
		if err != nil {
			return rberr.Wrap(rberr.IO, err, "%s profile %s", k, name)
		}
		if err := p.WriteTo(f, 0); err != nil {
			f.Close()
			return rberr.Wrap(rberr.IO, err, "%s profile %s", k, name)
		}
		if err := f.Close(); err != nil {
			return rberr.Wrap(rberr.IO, err, "%s profile %s", k, name)
		}
		return nil
	})
}
