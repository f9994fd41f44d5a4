using CommandLine;
using IlgpuUnlearn.Ilgpu;
using IlgpuUnlearn.Model;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("plan", HelpText = "Plan, without running anything, every kernel launch of an unlearning epoch on the ILGPU path at a batch size (full-width ResNet18): checks grids, splits, scratch and 32-bit indexing, prints the largest figures.")]
public sealed class PlanOptions
{
    [Option("batch-size", Default = 2500, HelpText = "Images per step (the model card's 2500).")]
    public int BatchSize { get; set; }

    [Option("retain", Default = 45000, HelpText = "Retain images per epoch: the last step takes retain mod batch-size (when not 0).")]
    public int Retain { get; set; }

    [Option("device", Default = "sm90", HelpText = "Whose launch limits: sm80 (A100), sm86, sm90 (H100/H200), or cuda (the first GPU here).")]
    public string Device { get; set; } = "sm90";
}

internal static class PlanCommand
{
    public static int Run(PlanOptions o)
    {
        if (o.BatchSize < 1) throw new UserError($"--batch-size must be at least 1, got {o.BatchSize}");
        if (o.Retain < 1) throw new UserError($"--retain must be at least 1, got {o.Retain}");
        var device = o.Device.ToLowerInvariant() switch
        {
            "sm80" => DeviceLimits.Sm80,
            "sm86" => DeviceLimits.Sm86,
            "sm90" => DeviceLimits.Sm90,
            "cuda" => CudaLimits(),
            _ => throw new UserError($"--device must be sm80, sm86, sm90 or cuda, got '{o.Device}'"),
        };
        int batch = Math.Min(o.BatchSize, o.Retain);
        var batches = new List<int> { batch };
        if (o.Retain % batch != 0)
            batches.Add(o.Retain % batch);
        Console.WriteLine($"plan: full-width ResNet18, AdvNegGrad step + evaluation forward, network for batch {batch}, " +
                          $"{device.Multiprocessors} multiprocessors of {device.MaxThreadsPerMultiprocessor} threads");
        foreach (int n in batches)
        {
            using var ops = new PlanningOps(device);
            IReadOnlyList<OpPlan> plans;
            try
            {
                plans = StepPlanning.PlanUnlearningStep(ops, ResNet18Config.Cifar10, batch, n);
            }
            catch (ArgumentException e)
            {
                throw new UserError($"plan at batch {n}: {e.Message}");
            }
            var launches = plans.SelectMany(p => p.Launches).ToList();
            var grouped = launches.Where(l => !l.ImplicitlyGrouped).ToList();
            Console.WriteLine($"batch {n}: {plans.Count} ops, {launches.Count} launches; largest grid of groups x {grouped.Max(l => l.Grid.X)}, " +
                              $"y {grouped.Max(l => l.Grid.Y)}, z {grouped.Max(l => l.Grid.Z)}; largest group {grouped.Max(l => l.ThreadsPerGroup ?? 0)}; " +
                              $"largest one-thread-per-element launch {launches.Where(l => l.ImplicitlyGrouped).Max(l => l.Grid.X):N0}; " +
                              $"weight-gradient splits up to {plans.Where(p => p.Op == "Conv2dBackwardWeight").Max(p => p.Launches[0].Grid.Z)}; " +
                              $"largest scratch {plans.Max(p => p.ScratchFloats):N0} floats; device memory {ops.PeakAllocatedBytes / 1048576.0:F0} MiB");
        }
        Console.WriteLine("plan: every launch within CUDA's limits and 32-bit indexing");
        return 0;
    }

    private static DeviceLimits CudaLimits()
    {
        using var context = Devices.CreateContext(cuda: true, cpu: false);
        var gpu = context.Devices.FirstOrDefault(d => d.AcceleratorType == ILGPU.Runtime.AcceleratorType.Cuda)
                  ?? throw new UserError("--device cuda: no CUDA GPU here");
        return new DeviceLimits(true, gpu.NumMultiprocessors, gpu.MaxNumThreadsPerMultiprocessor, gpu.MaxNumThreadsPerGroup, gpu.WarpSize);
    }
}
