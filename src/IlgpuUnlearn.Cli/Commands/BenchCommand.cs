using System.Diagnostics;
using System.Text.Json;
using CommandLine;
using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.IO;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Unlearning;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("bench", HelpText = "Time forward + backward + SGD step of the full ResNet18 on 32x32 inputs: images/s and peak memory (compare with bench/torch_peer.py).")]
public sealed class BenchOptions
{
    [Option("device", HelpText = DeviceChoice.Help)]
    public string? Device { get; set; }

    [Option("batch-size", Default = 64, HelpText = "Images per step; the default is the batch of the CPU comparison against PyTorch (bench/compare-step.sh).")]
    public int BatchSize { get; set; }

    [Option("steps", Default = 5, HelpText = "Timed steps (after --warmup untimed ones); the default is ours.")]
    public int Steps { get; set; }

    [Option("warmup", Default = 2, HelpText = "Untimed steps first (JIT, kernel compilation, caches); the default is ours.")]
    public int Warmup { get; set; }

    [Option("augment", HelpText = "Crop and flip every batch as `train` does (random 32 crop of the 4-padded image, random horizontal flip, " +
        "new for each step): the step of `train` (compare with bench/torch_peer.py train).")]
    public bool Augment { get; set; }

    [Option("json", HelpText = "Also write the figures to this JSON file (fields images_per_second, peak_memory_bytes, device).")]
    public string? Json { get; set; }
}

internal static class BenchCommand
{
    public static int Run(BenchOptions o)
    {
        PlanChecks.AtLeast(o.BatchSize, 1, "--batch-size");
        PlanChecks.AtLeast(o.Steps, 1, "--steps");
        PlanChecks.AtLeast(o.Warmup, 0, "--warmup");
        long baseRss = ProcessMemory.PeakResidentBytes();
        using var ops = DeviceChoice.Open(o.Device);
        using var model = new ResNet18(ops, ResNet18Config.Cifar10, o.BatchSize);
        using var step = new TrainingStep(ops, model);
        var random = new Random(1);
        var pixels = new byte[o.BatchSize * 3 * 32 * 32];
        var labels = new int[o.BatchSize];
        random.NextBytes(pixels);
        for (int i = 0; i < labels.Length; i++) labels[i] = random.Next(10);
        RandomInit.Load(model, seed: 1);
        // Plain SGD as the peer runs it: Nesterov momentum and weight decay, no clipping.
        var settings = new SgdUpdate(0.1f, 0.9f, 5e-4f, Nesterov: true, Clip: 0);

        // With --augment each step draws new crop/flip parameters, as an epoch of `train` does (EpochBatches).
        var augmentRandom = new Data.DeterministicRandom(1);
        var shifts = new int[o.Augment ? o.BatchSize * Data.Augmentation.ParametersPerImage : 0];
        HostBatch Batch()
        {
            if (o.Augment) Data.Augmentation.Draw(augmentRandom, shifts);
            return new HostBatch(pixels, labels, shifts, o.BatchSize);
        }

        for (int i = 0; i < o.Warmup; i++) step.Step(Batch(), BatchLoss.Descent, settings);
        ops.Synchronize();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < o.Steps; i++)
        {
            var r = step.Step(Batch(), BatchLoss.Descent, settings);
            Console.Error.Write($"\rstep {i + 1}/{o.Steps}  loss {r.RetainLoss:F4}  {(i + 1) * o.BatchSize / clock.Elapsed.TotalSeconds:F1} images/s   ");
        }
        ops.Synchronize();
        double seconds = clock.Elapsed.TotalSeconds;
        Console.Error.WriteLine();

        double imagesPerSecond = o.BatchSize * (double)o.Steps / seconds;
        long rssGrowth = ProcessMemory.PeakResidentBytes() - baseRss;
        // Flops: forward 2 x MACs, backward twice that (input and weight gradients).
        double flops = 3 * 2.0 * ResNet18Flops.ForwardMacsPerImage(model.Config) * o.BatchSize * o.Steps;
        // The limit the figure is measured against: the machine's own FMA throughput (CPU path only).
        double? peak = ops is CpuOps ? CpuModel.MeasureFmaPeakGflops() : null;
        Console.WriteLine($"device            {ops.Name}");
        if (ops is CpuOps)
        {
            Console.WriteLine($"cpu               {CpuModel.Name}");
            Console.WriteLine($"cpu caches        {CpuCacheDescription.ThisMachine}");
            Console.WriteLine($"kernel plan       {CpuKernelPlan.Current}");
        }
        Console.WriteLine($"batch size        {o.BatchSize}, {o.Steps} timed steps{(o.Augment ? ", crop-flip augmentation" : "")}");
        Console.WriteLine($"images/s          {imagesPerSecond:F1}");
        Console.WriteLine($"seconds/step      {seconds / o.Steps:F3}");
        Console.WriteLine($"achieved          {flops / seconds / 1e9:F1} GFLOP/s" +
            (peak is { } p ? $" of a measured FMA peak of {p:F0} GFLOP/s ({flops / seconds / 1e9 / p:P0})" : ""));
        Console.WriteLine($"peak device bytes {ops.PeakAllocatedBytes:N0}");
        Console.WriteLine($"peak RSS growth   {rssGrowth:N0}");
        if (o.Json is not null)
        {
            var json = JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["device"] = ops.Name, ["batch_size"] = o.BatchSize, ["steps"] = o.Steps, ["seconds"] = seconds, ["augment"] = o.Augment,
                ["images_per_second"] = imagesPerSecond, // On the CPU path the comparable figure is the process's growth (the peer reports its RSS growth); on a GPU, device memory.
                ["peak_memory_bytes"] = ops is CpuOps ? rssGrowth : ops.PeakAllocatedBytes,
                ["peak_device_bytes"] = ops.PeakAllocatedBytes, ["peak_rss_growth_bytes"] = rssGrowth,
                ["gflops_per_second"] = flops / seconds / 1e9,
                ["cpu_model"] = CpuModel.Name, ["fma_peak_gflops_per_second"] = peak ?? 0,
                ["cpu_caches"] = ops is CpuOps ? CpuCacheDescription.ThisMachine.ToString() : "",
                ["kernel_plan"] = ops is CpuOps ? CpuKernelPlan.Current.ToString() : "",
            });
            AtomicFile.WriteAllText(o.Json, json + "\n");
        }
        return 0;
    }
}
