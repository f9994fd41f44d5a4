using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Model;

namespace IlgpuUnlearn.Tests.Model;

/// <summary>Initialising a model in place (tensor by tensor) gives exactly the state dict of the same seed.</summary>
public sealed class RandomInitTests
{
    [Fact]
    public void LoadInPlaceEqualsTheStateDictOfTheSameSeed()
    {
        using var ops = new CpuOps();
        using var model = new ResNet18(ops, new ResNet18Config(4, 16, 10), 2);
        RandomInit.Load(model, seed: 7);
        var loaded = ModelState.Read(model);
        var expected = RandomInit.State(model.Layout, seed: 7);
        Assert.Equal(expected.Keys.Order(), loaded.Keys.Order());
        foreach (var (name, values) in expected)
            Assert.Equal(values, loaded[name]); // exact: the same draws, copied
        // A different seed draws different weights, so the comparison above can fail.
        Assert.NotEqual(RandomInit.State(model.Layout, seed: 8)["conv1.weight"], loaded["conv1.weight"]);
    }
}
