using IlgpuUnlearn.Ilgpu;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Kernels;

/// <summary>
/// Every host-side decision of the ILGPU path at the real sizes, launching nothing: the full-width CIFAR ResNet18 takes one
/// AdvNegGrad step (forget and retain batch: input, every conv / batch-norm / ReLU / add in forward and backward, pool, head,
/// loss, gradient combination, global norm, SGD) and an evaluation forward through <see cref="PlanningOps"/>, which asks
/// <see cref="LaunchPlanner"/> exactly what <see cref="IlgpuOps"/> asks before it launches. Every launch of every op is then
/// checked against CUDA's limits: grid y and z at most 65,535, at most 1,024 threads per group, the kernel's static shared memory
/// at most 48 KB and its registers x threads per group at most 65,536 (ptxas's figures, <see cref="PtxasFigures"/>).
/// Batches: 1, 256 and 2500 (the card's) in a network sized for 2500, the evaluation batch of 500, and an epoch of 45,000
/// retain images at batch 2048, whose last batch is 45,000 mod 2048 = 1992 (at 2500 the epoch is 18 whole batches).
/// Devices: the launch choices depend on the multiprocessor count, so each of sm_80 (A100), sm_86 and sm_90 (H100/H200).
/// </summary>
public sealed class LaunchPlanTests(ITestOutputHelper output)
{
    public static TheoryData<string, int, int> Cases()
    {
        var data = new TheoryData<string, int, int>();
        foreach (var device in new[] { "sm_80", "sm_86", "sm_90" })
        {
            data.Add(device, 2500, 1);
            data.Add(device, 2500, 256);
            data.Add(device, 2500, 2500);
            data.Add(device, 2048, 2048);
            data.Add(device, 2048, 45_000 % 2048);
        }
        return data;
    }

    private static DeviceLimits Device(string name) => name switch
    {
        "sm_80" => DeviceLimits.Sm80,
        "sm_86" => DeviceLimits.Sm86,
        _ => DeviceLimits.Sm90,
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void FullWidthStepPlansWithinCudaLimits(string device, int maxBatch, int batch)
    {
        using var ops = new PlanningOps(Device(device));
        var plans = PlanStep(ops, maxBatch, batch);
        var launches = plans.SelectMany(p => p.Launches.Select(l => (Plan: p, Launch: l))).ToList();

        // Every op of the step was planned, and every layer's convolution in all three passes.
        string[] ops18 =
        [
            "LoadImages", "Conv2dForward", "BatchNormTrainForward", "ReluForward", "Add", "GlobalAvgPoolForward", "LinearForward",
            "SoftmaxNllLoss", "LinearBackward", "GlobalAvgPoolBackward", "ReluBackward", "BatchNormBackward", "Conv2dBackwardInput",
            "Conv2dBackwardWeight", "CombineGradients", "SumOfSquares", "ClipAndSgdStep", "BatchNormEvalForward", "BatchNormApply",
        ];
        foreach (var op in ops18)
            Assert.Contains(plans, p => p.Op == op);
        // 20 convolutions (stem, 16 in the blocks, 3 downsamples), twice forward in training (forget, retain) and once in
        // evaluation; each training backward recomputes the 3 downsample convolutions' outputs it did not keep (ResNet18.Backward).
        Assert.Equal(3 * 20 + 2 * 3, plans.Count(p => p.Op == "Conv2dForward"));
        Assert.Equal(2 * 20, plans.Count(p => p.Op == "Conv2dBackwardWeight"));
        Assert.All(plans.Where(p => p.Op.StartsWith("Conv2d", StringComparison.Ordinal)), p => Assert.NotEmpty(p.Launches));

        var failures = LimitFailures(launches);
        Print(device, maxBatch, batch, ops, plans, launches);
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    /// <summary>Every convolution kernel version (the options bench-kernels and self-test use) plans the card's batch on sm_90.</summary>
    [Theory]
    [InlineData(ConvAlgorithm.Tiled, true)]
    [InlineData(ConvAlgorithm.Tiled, false)]
    [InlineData(ConvAlgorithm.Wide, true)]
    [InlineData(ConvAlgorithm.TensorCoreTf32, true)]
    [InlineData(ConvAlgorithm.Naive, true)]
    public void EveryConvolutionVersionPlansTheCardBatch(ConvAlgorithm algorithm, bool byPhase)
    {
        using var ops = new PlanningOps(DeviceLimits.Sm90, new IlgpuOpsOptions { Convolution = algorithm, BackwardInputByPhase = byPhase });
        var plans = PlanStep(ops, 2500, 2500);
        var convolutions = plans.Where(p => p.Op.StartsWith("Conv2d", StringComparison.Ordinal)).SelectMany(p => p.Launches).ToList();
        output.WriteLine($"{algorithm}, by phase {byPhase}: {convolutions.Count} convolution launches, kernels " +
                         string.Join(", ", convolutions.Select(l => l.Kernel).Distinct()));
        Assert.All(convolutions, l => Assert.True(PtxasFigures.Kernels.ContainsKey(l.Kernel), l.Kernel));
        Assert.All(convolutions.Where(l => l.Group is not null), l => Assert.True(
            l.Grid.Y <= DeviceLimits.MaxGridYZ && l.Grid.Z <= DeviceLimits.MaxGridYZ
            && (long)PtxasFigures.Kernels[l.Kernel].Registers * l.ThreadsPerGroup!.Value <= DeviceLimits.RegistersPerGroup, l.ToString()));
    }

    /// <summary>At the card's batch on the largest device, the decisions that only happen at full size are taken as expected.</summary>
    [Fact]
    public void CardBatchSplitsTheWeightGradientAndChunksBatchNorm()
    {
        using var ops = new PlanningOps(DeviceLimits.Sm90);
        var plans = PlanStep(ops, 2500, 2500);
        // layer1's 64 x 64 x 3 x 3 weight gradient reduces over 2500 x 32 x 32 pixels: split over groups, summed by SumSplits.
        var layer1 = plans.First(p => p.Op == "Conv2dBackwardWeight" && p.Shape == new ConvShape(2500, 64, 32, 32, 64, 3, 1, 1).ToString());
        output.WriteLine(layer1.ToString());
        Assert.True(layer1.Launches[0].Grid.Z > 1, "the reduction over 2.56M pixels is not split");
        Assert.EndsWith("SumSplits", layer1.Launches[1].Kernel);
        Assert.Equal(layer1.Launches[0].Grid.Z * 64L * 64 * 9, layer1.ScratchFloats);
        // The 64-channel batch norms at 32 x 32 cannot fill 132 multiprocessors with one group per channel: chunked.
        var bn = plans.First(p => p.Op == "BatchNormTrainForward" && p.Shape == new BatchNormShape(2500, 64, 1024).ToString());
        output.WriteLine(bn.ToString());
        Assert.True(bn.Launches[0].Grid.X > 1 && bn.ScratchFloats == 2L * 64 * bn.Launches[0].Grid.X);
        // The largest grid of the step: the 3x3 convolutions at 32 x 32, 2500 x 1024 pixels in 64-pixel tiles.
        var forward = plans.First(p => p.Op == "Conv2dForward" && p.Shape == new ConvShape(2500, 64, 32, 32, 64, 3, 1, 1).ToString());
        Assert.Equal(new LaunchSize(40_000, 1, 1), forward.Launches[0].Grid);
    }

    /// <summary>
    /// The 32-bit bound is on what the kernels index, not on a product no kernel forms: layer2.0.conv1 at batch 2500
    /// (N H W Cout K K = 2.95e9) plans, and a tensor that does reach 2^31 is refused in one line naming it.
    /// </summary>
    [Fact]
    public void IndexBoundNamesTheTensorThatOverflows()
    {
        using var ops = new PlanningOps(DeviceLimits.Sm90);
        var layer2 = new ConvShape(2500, 64, 32, 32, 128, 3, 2, 1);
        using var x = ops.Allocate<float>(layer2.InputLength);
        using var w = ops.Allocate<float>(layer2.WeightLength);
        using var y = ops.Allocate<float>(layer2.OutputLength);
        ops.Conv2dForward(layer2, x.All, w.All, y.All);
        ops.Conv2dBackwardInput(layer2, y.All, w.All, x.All);
        ops.Conv2dBackwardWeight(layer2, x.All, y.All, w.All);
        Assert.Equal(3, ops.Plans.Count);

        // 33,000 images of 64 x 32 x 32: 2.16e9 input elements.
        var tooBig = new ConvShape(33_000, 64, 32, 32, 64, 3, 1, 1);
        using var big = ops.Allocate<float>(tooBig.InputLength);
        using var w2 = ops.Allocate<float>(tooBig.WeightLength);
        var e = Assert.Throws<ArgumentException>(() => ops.Conv2dForward(tooBig, big.All, w2.All, big.All));
        output.WriteLine(e.Message);
        Assert.Contains("the input, N*Cin*H*W = 2162688000, reaches 2^31", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    /// <summary>
    /// Every launch against CUDA's grid limits and its kernel's ptxas figures (static shared memory at most 48 KB, registers x threads
    /// per group at most 65,536); one line per failure.
    /// </summary>
    private static List<string> LimitFailures(IEnumerable<(OpPlan Plan, KernelLaunch Launch)> launches)
    {
        var failures = new List<string>();
        foreach (var (plan, launch) in launches)
        {
            string where = $"{plan.Op} {plan.Shape}: {launch}";
            var grid = launch.Grid;
            if (grid.X < 1 || grid.Y < 1 || grid.Z < 1 || grid.Y > DeviceLimits.MaxGridYZ || grid.Z > DeviceLimits.MaxGridYZ)
                failures.Add($"{where}: grid outside CUDA's limits");
            if (!PtxasFigures.Kernels.TryGetValue(launch.Kernel, out var figures))
            {
                failures.Add($"{where}: no ptxas figures for {launch.Kernel} (add them to PtxasFigures)");
                continue;
            }
            if (figures.SharedBytes > DeviceLimits.MaxStaticSharedBytes)
                failures.Add($"{where}: {figures.SharedBytes} bytes of static shared memory");
            // An implicitly grouped kernel's group size is ILGPU's occupancy-based choice, which fits its registers;
            // an explicit group must fit them itself.
            int threads = launch.ThreadsPerGroup ?? 32;
            if (threads > DeviceLimits.MaxThreadsPerGroupCuda || (long)figures.Registers * threads > DeviceLimits.RegistersPerGroup)
                failures.Add($"{where}: {threads} threads x {figures.Registers} registers exceed 65,536 registers per group");
        }
        return failures;
    }

    /// <summary>
    /// The ops SCRUB and SalUn add, at their real sizes: the distillation KL over the card's batch of 2500 (and 1) x 10 classes, and the
    /// gradient mask over the full-width network's flat gradient (11,173,962 floats), on each device.
    /// </summary>
    [Theory]
    [InlineData("sm_80")]
    [InlineData("sm_86")]
    [InlineData("sm_90")]
    public void DistillationAndMaskPlanWithinCudaLimits(string device)
    {
        using var ops = new PlanningOps(Device(device));
        foreach (int n in new[] { 1, 2500 })
        {
            using var student = ops.Allocate<float>(n * 10L);
            using var teacher = ops.Allocate<float>(n * 10L);
            using var dStudent = ops.Allocate<float>(n * 10L);
            using var loss = ops.Allocate<float>(1);
            ops.KlDivergence(n, 10, student.All, teacher.All, 4f, 1f, loss.All, dStudent.All, accumulate: true);
        }
        long parameters = new ResNet18Layout(ResNet18Config.Cifar10).ParameterCount;
        using var g = ops.Allocate<float>(parameters);
        using var mask = ops.Allocate<float>(parameters);
        ops.Multiply(g.All, mask.All, g.All);

        foreach (var plan in ops.Plans)
            output.WriteLine(plan.ToString());
        var kl = ops.Plans.Last(p => p.Op == "KlDivergence");
        Assert.Equal(2500, kl.ScratchFloats);
        Assert.Equal(new LaunchSize(2500), kl.Launches[0].Grid);
        Assert.Equal(new LaunchSize(checked((int)parameters)), ops.Plans.Single(p => p.Op == "Multiply").Launches[0].Grid);
        var failures = LimitFailures(ops.Plans.SelectMany(p => p.Launches.Select(l => (p, l))));
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    /// <summary>
    /// A gradient in evaluation mode (SalUn's saliency, SCRUB's Fisher information, SSD's importances) of the full-width network at
    /// the card's batch: every BatchNorm's statistics kernel over C threads, its backward the training backward's reductions (chunked
    /// at this size) and the per-element dx kernel; every launch within CUDA's limits; no running statistic is planned to move.
    /// </summary>
    [Theory]
    [InlineData("sm_80")]
    [InlineData("sm_90")]
    public void EvaluationModeGradientPlansWithinCudaLimits(string device)
    {
        using var ops = new PlanningOps(Device(device));
        using var model = new ResNet18(ops, ResNet18Config.Cifar10, 2500);
        using var g = ops.Allocate<float>(model.Layout.ParameterCount);
        model.Forward(2500, BatchNormMode.EvaluationWithGradients);
        model.Backward(2500, g.All);

        Assert.Equal(20, ops.Plans.Count(p => p.Op == "BatchNormEvalStatistics"));
        Assert.Equal(20, ops.Plans.Count(p => p.Op == "BatchNormEvalBackward"));
        Assert.DoesNotContain(ops.Plans, p => p.Op is "BatchNormTrainForward" or "BatchNormBackward" or "BatchNormEvalForward");
        var stem = ops.Plans.First(p => p.Op == "BatchNormEvalBackward" && p.Shape == new BatchNormShape(2500, 64, 1024).ToString());
        Assert.Equal("BatchNormKernels.EvalBackwardInput", stem.Launches[^1].Kernel);
        var failures = LimitFailures(ops.Plans.SelectMany(p => p.Launches.Select(l => (p, l))));
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    /// <summary>The ILGPU path refuses what the CPU path refuses: an empty batch, a temperature not finite and positive, wrong lengths.</summary>
    [Fact]
    public void DistillationAndMaskRefuseBadArguments()
    {
        using var ops = new PlanningOps(DeviceLimits.Sm90);
        using var z = ops.Allocate<float>(20);
        using var loss = ops.Allocate<float>(1);
        void Kl(int n, int classes, float temperature, long dLength)
        {
            using var d = ops.Allocate<float>(dLength);
            ops.KlDivergence(n, classes, z.All, z.All, temperature, 1f, loss.All, d.All, accumulate: false);
        }
        Kl(2, 10, 2f, 20);
        Assert.Throws<ArgumentException>(() => Kl(0, 20, 2f, 20));
        foreach (float temperature in new[] { 0f, -1f, float.NaN, float.PositiveInfinity })
            Assert.Throws<ArgumentException>(() => Kl(2, 10, temperature, 20));
        Assert.Throws<ArgumentException>(() => Kl(2, 10, 2f, 19));
        Assert.Throws<ArgumentException>(() => Kl(4, 10, 2f, 40));
        using var other = ops.Allocate<float>(21);
        Assert.Throws<ArgumentException>(() => ops.Multiply(z.All, other.All, z.All));
        Assert.Throws<ArgumentException>(() => ops.Multiply(z.All, z.All, other.All));
    }

    private static IReadOnlyList<OpPlan> PlanStep(PlanningOps ops, int maxBatch, int batch)
        => StepPlanning.PlanUnlearningStep(ops, ResNet18Config.Cifar10, maxBatch, batch);

    private void Print(string device, int maxBatch, int batch, PlanningOps ops, IReadOnlyList<OpPlan> plans,
        List<(OpPlan Plan, KernelLaunch Launch)> launches)
    {
        var explicitLaunches = launches.Where(l => !l.Launch.ImplicitlyGrouped).ToList();
        output.WriteLine($"{device}, network for batch {maxBatch}, step at batch {batch}: {plans.Count} ops, {launches.Count} launches, " +
                         $"planned device memory {ops.PeakAllocatedBytes / 1048576.0:F0} MiB");
        output.WriteLine($"  largest grid x {launches.Max(l => l.Launch.Grid.X)}, y {launches.Max(l => l.Launch.Grid.Y)}, " +
                         $"z {launches.Max(l => l.Launch.Grid.Z)}; largest scratch {plans.Max(p => p.ScratchFloats)} floats");
        foreach (var p in plans.Where(p => p.Op.StartsWith("Conv2d", StringComparison.Ordinal) || p.Op.StartsWith("BatchNorm", StringComparison.Ordinal))
                     .DistinctBy(p => (p.Op, p.Shape)))
            output.WriteLine("  " + p);
        Assert.NotEmpty(explicitLaunches);
    }
}
