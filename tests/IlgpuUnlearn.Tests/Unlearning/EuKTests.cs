using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Tests.Unlearning;

/// <summary>
/// What EU-k and CF-k take from --train-last K: the first trained tensor (a stage boundary of the state-dict order), and the
/// tensors EU-k redraws (the conv weights and fc of those stages; their BatchNorm and everything before kept bit for bit).
/// </summary>
public sealed class EuKTests
{
    [Theory]
    [InlineData(0, "fc.weight")]
    [InlineData(1, "layer4.0.conv1.weight")]
    [InlineData(4, "layer1.0.conv1.weight")]
    public void Train_last_k_starts_at_the_stage_boundary(int k, string first)
    {
        var layout = new ResNet18Layout(new ResNet18Config(4, 16, 10));
        Assert.Equal(layout[first].Offset, CfK.FirstTrainable(layout, k));
    }

    [Fact]
    public void EU_k_redraws_the_conv_and_fc_weights_of_the_trained_stages_only()
    {
        var config = new ResNet18Config(4, 16, 10);
        using var ops = new CpuOps();
        using var model = new ResNet18(ops, config, 2);
        var initial = HashedParameters.State(model.Layout);
        ModelState.Load(model, initial);
        long first = CfK.FirstTrainable(model.Layout, 1);
        var state = EuK.Reinitialised(model, first, seed: 3);
        foreach (var t in model.Layout.Tensors.Where(t => t.Role != TensorRole.BatchesTracked))
        {
            bool redrawn = t.Role == TensorRole.Parameter && t.Offset >= first && (t.Shape.Length == 4 || t.Name.StartsWith("fc.", StringComparison.Ordinal));
            if (redrawn) Assert.NotEqual(initial[t.Name], state[t.Name]);
            else Assert.Equal(initial[t.Name], state[t.Name]);
        }
        Assert.Contains(model.Layout.Tensors, t => t.Name == "layer4.1.conv2.weight" && !initial[t.Name].SequenceEqual(state[t.Name]));
        Assert.Equal(initial["layer4.1.bn2.weight"], state["layer4.1.bn2.weight"]);
    }
}

/// <summary>Bad Teacher's retain subset: round(fraction |R|) distinct retain images, in dataset order, the same for a seed.</summary>
public sealed class BadTeacherSubsetTests
{
    [Fact]
    public void The_subset_is_the_fraction_of_the_retain_set_drawn_from_the_seed()
    {
        int[] retain = Enumerable.Range(0, 1000).Select(i => 3 * i + 1).ToArray();
        var a = BadTeacher.RetainSubset(retain, 0.3, seed: 4);
        Assert.Equal(300, a.Length);
        Assert.Equal(a.Order().ToArray(), a);
        Assert.Equal(300, a.Distinct().Count());
        Assert.All(a, i => Assert.Contains(i, retain));
        Assert.Equal(a, BadTeacher.RetainSubset(retain, 0.3, seed: 4));
        Assert.NotEqual(a, BadTeacher.RetainSubset(retain, 0.3, seed: 5));
        Assert.NotEqual(retain.Take(300), a);
        Assert.Equal(retain, BadTeacher.RetainSubset(retain, 1, seed: 4));
    }
}
