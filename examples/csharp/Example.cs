// Example.cs: the C# binding of rai: version, build, CPU features, devices and a buffer round
// trip on the default device. Exits with status 1 if anything is wrong.
using System;
using System.Linq;
using System.Text;
using Rai;

internal static class Example
{
    private static int Main()
    {
        try
        {
            Run();
            return 0;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine("rai-example: " + e.Message);
            return 1;
        }
    }

    private static void Run()
    {
        Library.CheckVersion();
        Console.WriteLine("rai " + Library.Version + " (binding built for " + Library.HeaderVersion + ")");
        Console.WriteLine("build: " + Library.BuildInfo);
        Console.WriteLine("cpu: detected [" + string.Join(" ", Library.CpuFeatureNames(Library.CpuFeaturesDetected)) +
                          "], usable [" + string.Join(" ", Library.CpuFeatureNames(Library.CpuFeatures)) +
                          "], kernels " + Library.CpuDispatchLevel);

        int n = Library.CudaDeviceCount;
        Console.WriteLine("cuda: " + n + " device(s); plugin " + Library.CudaPluginStatus);
        for (int i = 0; i < n; i++)
        {
            DeviceInfo info = Library.CudaDeviceInfo(i);
            Console.WriteLine(string.Format("  cuda:{0} {1}, sm_{2}{3}, {4} SMs, {5:F1} GiB", i, info.Name,
                info.ComputeCapabilityMajor, info.ComputeCapabilityMinor, info.MultiprocessorCount,
                info.TotalMemoryBytes / (double)(1UL << 30)));
        }

        // Errors carry a status and a message naming the argument.
        try
        {
            using (new Context("tpu")) { }
            throw new Exception("a bad device was accepted");
        }
        catch (RaiException e)
        {
            if (e.Status != Status.InvalidArgument) throw;
            Console.WriteLine("bad device rejected: " + e.Message);
        }

        using (var ctx = new Context("auto"))
        using (var buf = new Rai.Buffer(ctx, 4096))
        {
            byte[] msg = Encoding.UTF8.GetBytes("hello from C# through a rai buffer");
            buf.Write(128, msg);
            byte[] back = buf.Read(128, msg.Length);
            if (!msg.SequenceEqual(back))
                throw new Exception("round trip on " + ctx.Device + " returned \"" + Encoding.UTF8.GetString(back) + "\"");
            Console.WriteLine("buffer round trip on " + ctx.Device + ": \"" + Encoding.UTF8.GetString(back) + "\" OK");
        }
    }
}
