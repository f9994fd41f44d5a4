using System.Diagnostics;
using System.Text.Json;
using CommandLine;
using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.IO;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Unlearning;
using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("bench-epoch", HelpText = "Time one AdvNegGrad epoch on random CIFAR-sized data (compare with `bench/torch_peer.py epoch`).")]
public sealed class BenchEpochOptions
{
    [Option("device", HelpText = DeviceChoice.Help)]
    public string? Device { get; set; }

    [Option("batch-size", Default = 2500, HelpText = "Retain (and forget) images per step.")]
    public int BatchSize { get; set; }

    [Option("retain", Default = 45000, HelpText = "Retain images (classes 1-9).")]
    public int Retain { get; set; }

    [Option("forget", Default = 5000, HelpText = "Forget images (class 0).")]
    public int Forget { get; set; }

    [Option("steps", HelpText = "Time only the first N steps (the CPU path takes long for a whole epoch); the figures are per step and per image.")]
    public int? Steps { get; set; }

    [Option("warmup", Default = 1, HelpText = "Untimed steps first (kernel compilation, JIT); 0 on the CPU path saves a long step.")]
    public int Warmup { get; set; }

    [Option("json", HelpText = "Also write the figures to this JSON file.")]
    public string? Json { get; set; }
}

internal static class BenchEpochCommand
{
    public static int Run(BenchEpochOptions o)
    {
        if (o.BatchSize < 1 || o.Retain < 1 || o.Forget < 1) throw new UserError("--batch-size, --retain and --forget must be at least 1");
        int batch = Math.Min(o.BatchSize, o.Retain);
        DeviceChoice.CheckMemory(o.Device, ResNet18Config.Cifar10, batch, training: true, "--batch-size");
        long baseRss = ProcessMemory.PeakResidentBytes();
        var data = RandomData(o.Retain, o.Forget);
        using var ops = DeviceChoice.Open(o.Device);
        using var model = new ResNet18(ops, ResNet18Config.Cifar10, batch);
        RandomInit.Load(model, seed: 1);
        // Same walk as the peer: file order, no augmentation.
        var card = new AdvNegGrad().Defaults with { BatchSize = model.MaxBatch, Shuffle = false, Augment = false, MaxSteps = o.Steps };

        // One untimed step first: kernel compilation and JIT, as the peer's warm-up step.
        if (o.Warmup > 0)
        {
            MethodRun.Run(model, data, 0, card with { MaxSteps = o.Warmup });
            RandomInit.Load(model, seed: 1);
        }
        ops.Synchronize();

        var clock = Stopwatch.StartNew();
        int steps = MethodRun.Run(model, data, 0, card, p => ProgressLine.Show(p)).Steps;
        ops.Synchronize();
        double seconds = clock.Elapsed.TotalSeconds;
        ProgressLine.Finish();

        int stepsPerEpoch = (o.Retain + model.MaxBatch - 1) / model.MaxBatch;
        long images = 2L * Math.Min(o.Retain, (long)steps * model.MaxBatch);
        double flops = 3 * 2.0 * ResNet18Flops.ForwardMacsPerImage(model.Config) * images;
        double epochSeconds = seconds / steps * stepsPerEpoch;
        long rss = ProcessMemory.PeakResidentBytes() - baseRss;
        Console.WriteLine($"device           {ops.Name}");
        Console.WriteLine($"steps            {steps} of {stepsPerEpoch} (batch {model.MaxBatch}, {images:N0} image passes)");
        Console.WriteLine($"seconds          {seconds:F2} ({seconds / steps:F3} per step; whole epoch {epochSeconds:F1})");
        Console.WriteLine($"images/s         {images / seconds:F1}");
        Console.WriteLine($"achieved         {flops / seconds / 1e12:F3} TFLOP/s");
        Console.WriteLine($"arena (planned)  {model.ArenaBytes:N0} bytes ({MemoryNeed.Gb(model.ArenaBytes)}: the activations; the CUDA path allocates the same)");
        Console.WriteLine($"peak device mem  {ops.PeakAllocatedBytes:N0} bytes");
        Console.WriteLine($"peak RSS growth  {rss:N0} bytes");
        if (o.Json is not null)
            AtomicFile.WriteAllText(o.Json, JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["device"] = ops.Name, ["batch_size"] = model.MaxBatch, ["steps"] = steps, ["steps_per_epoch"] = stepsPerEpoch,
                ["seconds"] = epochSeconds, ["timed_seconds"] = seconds, ["images"] = images, ["images_per_second"] = images / seconds,
                ["tflops_per_second"] = flops / seconds / 1e12, ["peak_memory_bytes"] = ops is CpuOps ? rss : ops.PeakAllocatedBytes,
                ["peak_device_bytes"] = ops.PeakAllocatedBytes, ["peak_rss_growth_bytes"] = rss,
                ["arena_bytes"] = model.ArenaBytes, ["cpu_model"] = CpuModel.Name,
            }) + "\n");
        return 0;
    }

    /// <summary>Random 3x32x32 images: <paramref name="forget"/> of class 0 first, then <paramref name="retain"/> of classes 1-9.</summary>
    static ImageDataset RandomData(int retain, int forget)
    {
        var random = new Random(7);
        int n = retain + forget;
        var pixels = new byte[(long)n * 3072];
        random.NextBytes(pixels);
        var labels = new byte[n];
        for (int i = forget; i < n; i++) labels[i] = (byte)(1 + random.Next(9));
        return new ImageDataset("random cifar-sized", pixels, labels, 3, 32, 32, Cifar10.ClassNames);
    }
}
