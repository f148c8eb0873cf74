// Command rai-example shows the Go binding of rai: version, build, CPU features, devices and a
// buffer round trip on the default device. It exits with status 1 if anything is wrong.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"rai.invalid/rai"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "rai-example:", err)
		os.Exit(1)
	}
}

func run() error {
	if err := rai.CheckVersion(); err != nil {
		return err
	}
	fmt.Printf("rai %s (binding built for %s)\n", rai.Version(), rai.HeaderVersion)
	fmt.Println("build:", rai.BuildInfo())
	fmt.Printf("cpu: detected [%v], usable [%v], kernels %s\n",
		rai.CPUFeaturesDetected(), rai.CPUFeatures(), rai.CPUDispatchLevel())

	n, err := rai.CudaDeviceCount()
	if err != nil {
		return err
	}
	fmt.Printf("cuda: %d device(s); plugin %s\n", n, rai.CudaPluginStatus())
	for i := 0; i < n; i++ {
		info, err := rai.CudaDeviceInfo(i)
		if err != nil {
			return err
		}
		fmt.Printf("  cuda:%d %s, sm_%d%d, %d SMs, %.1f GiB\n", i, info.Name, info.ComputeCapabilityMajor,
			info.ComputeCapabilityMinor, info.MultiprocessorCount, float64(info.TotalMemoryBytes)/(1<<30))
	}

	// Errors carry a status and a message naming the argument.
	if _, err := rai.NewContext(rai.Device("tpu")); err != nil {
		var e *rai.Error
		if !errors.As(err, &e) || e.Status != rai.StatusInvalidArgument {
			return fmt.Errorf("unexpected error for a bad device: %v", err)
		}
		fmt.Println("bad device rejected:", err)
	}

	ctx, err := rai.NewContext(rai.Device("auto"))
	if err != nil {
		return err
	}
	defer ctx.Close()
	dev, err := ctx.Device()
	if err != nil {
		return err
	}

	buf, err := rai.NewBuffer(ctx, 4096)
	if err != nil {
		return err
	}
	defer buf.Close()
	msg := []byte("hello from Go through a rai buffer")
	if err := buf.Write(128, msg); err != nil {
		return err
	}
	back := make([]byte, len(msg))
	if err := buf.Read(128, back); err != nil {
		return err
	}
	if !bytes.Equal(msg, back) {
		return fmt.Errorf("round trip on %v returned %q", dev, back)
	}
	fmt.Printf("buffer round trip on %v: %q OK\n", dev, back)
	return nil
}
