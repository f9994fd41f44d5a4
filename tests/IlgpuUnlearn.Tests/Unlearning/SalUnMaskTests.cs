using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Unlearning.Methods;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Unlearning;

/// <summary>
/// SalUn with <c>--saliency-threshold 0</c> (the mask 0 everywhere), through the registry's loop, two steps (the forget batch,
/// then a retain batch) of the Comparator's optimiser (momentum 0.9, weight decay 5e-4, clip 100):
/// <list type="bullet">
/// <item>with <c>--freeze-masked</c> (SalUn's own code since OPTML-Group/Unlearn-Saliency#33), every parameter keeps its bits
/// (the CPU path; the MaskedClipAndSgdStep kernel is checked bit for bit on ILGPU's CPU accelerator in OpKernelTests, a whole
/// method run there takes minutes);</item>
/// <item>by default (the Comparator's: only the gradient is masked) the gradient is 0, so the parameters move exactly as
/// torch.optim.SGD moves them on a zero gradient: m1 = wd p0, p1 = p0 - lr m1, m2 = mu m1 + wd p1, p2 = p1 - lr m2.</item>
/// </list>
/// </summary>
public sealed class SalUnMaskTests(ITestOutputHelper output)
{
    const int Forget = 3;

    /// <summary>40 random 16x16 images, 4 per class; a width-4 ResNet18 with hashed parameters.</summary>
    static (ImageDataset Train, ResNet18Config Config, Dictionary<string, float[]> Initial) Tiny()
    {
        var labels = Enumerable.Range(0, 40).Select(i => (byte)(i % 10)).ToArray();
        var pixels = HashedParameters.Bytes(40 * 3 * 16 * 16, stream: 77);
        var train = new ImageDataset("tiny", pixels, labels, 3, 16, 16, Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray());
        var config = new ResNet18Config(4, 16, 10);
        return (train, config, HashedParameters.State(new ResNet18Layout(config)));
    }

    static MethodSettings Settings(bool freeze) =>
        new SalUn().Defaults.With("--saliency-threshold", 0).With("--freeze-masked", freeze ? 1 : 0) with { BatchSize = 4, Epochs = 1, MaxSteps = 2 };

    [Fact]
    public void Frozen_mask_keeps_every_parameter_bit_for_bit()
    {
        var (train, config, initial) = Tiny();
        using var ops = new CpuOps();
        using var model = new ResNet18(ops, config, 4);
        ModelState.Load(model, initial);
        var settings = Settings(freeze: true);
        settings.Validate();
        var (steps, _) = MethodRun.Run(model, train, Forget, settings);
        Assert.Equal(2, steps);
        var after = ModelState.Read(model);
        long compared = 0;
        foreach (var t in model.Layout.Tensors.Where(t => t.Role == TensorRole.Parameter))
            for (int i = 0; i < initial[t.Name].Length; i++, compared++)
                Assert.True(BitConverter.SingleToInt32Bits(initial[t.Name][i]) == BitConverter.SingleToInt32Bits(after[t.Name][i]),
                    $"{t.Name}[{i}] moved from {initial[t.Name][i]:R} to {after[t.Name][i]:R}");
        output.WriteLine($"{compared} parameters unchanged after {steps} steps");
        Assert.Equal(model.Layout.Tensors.Where(t => t.Role == TensorRole.Parameter).Sum(t => (long)initial[t.Name].Length), compared);
    }

    /// <summary>The Comparator's behaviour, the default: weight decay and momentum move the masked weights. On the CPU path the
    /// update is the expression below element by element (a fused multiply-add where the step uses one), so the comparison is
    /// exact: no tolerance.</summary>
    [Fact]
    public void Default_masks_only_the_gradient_so_weight_decay_and_momentum_move_masked_weights()
    {
        var (train, config, initial) = Tiny();
        using var ops = new CpuOps();
        using var model = new ResNet18(ops, config, 4);
        ModelState.Load(model, initial);
        var settings = Settings(freeze: false);
        Assert.Equal(0.0, new SalUn().Defaults["--freeze-masked"]);
        var (steps, _) = MethodRun.Run(model, train, Forget, settings);
        Assert.Equal(2, steps);
        var after = ModelState.Read(model);
        var u = settings.UpdateAt(0);
        Assert.True(u.WeightDecay > 0 && u.Momentum > 0 && !u.Nesterov, u.ToString());
        long moved = 0, count = 0;
        foreach (var t in model.Layout.Tensors.Where(t => t.Role == TensorRole.Parameter))
            for (int i = 0; i < initial[t.Name].Length; i++, count++)
            {
                float p0 = initial[t.Name][i];
                float m1 = u.WeightDecay * p0;
                float p1 = p0 - u.LearningRate * m1;
                float m2 = MathF.FusedMultiplyAdd(u.Momentum, m1, u.WeightDecay * p1);
                float p2 = p1 - u.LearningRate * m2;
                Assert.True(p2 == after[t.Name][i], $"{t.Name}[{i}]: {after[t.Name][i]:R}, SGD on a zero gradient gives {p2:R}");
                if (after[t.Name][i] != p0) moved++;
            }
        output.WriteLine($"{moved} of {count} masked parameters moved by weight decay and momentum");
        Assert.True(moved > count / 2, $"only {moved} of {count} moved");
    }
}
