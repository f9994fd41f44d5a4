using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tests.Support;
using IlgpuUnlearn.Unlearning;
using IlgpuUnlearn.Unlearning.Methods;
using IlgpuUnlearn.Weights;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Unlearning;

/// <summary>
/// SSD and LFSSD (<see cref="SynapticDampening"/>) against PyTorch (Fixtures/ssd_w4_s16.safetensors from make_ssd_fixtures.py,
/// whose docstring writes the source's computation out): a width-4 ResNet18 with hashed parameters and the image set's running
/// statistics, 10 images of 3x16x16, forget class 3, batches of 4 (the full set's second batch holds retain and forget images),
/// alpha 10, lambda 1, on the CPU path. Checked:
/// <list type="bullet">
/// <item>Which parameters are dampened: the same as PyTorch's float64 run, except where its ratio imp_f / (alpha imp_D) lies
/// within <see cref="SelectionMargin"/> of 1 (a threshold that close is decided by float32 rounding; none of the fixture's
/// selections differ between PyTorch's float32 and float64 runs).</item>
/// <item>The parameters after dampening: max |ours - fp64| over the largest change max |fp64 - initial|, no more than
/// <see cref="Factor"/> x PyTorch fp32's distance, or <see cref="Floor"/>.</item>
/// <item><see cref="SynapticDampening.Run"/> gives what its parts (two importances, one dampening) give, and moves no running
/// statistic.</item>
/// </list>
/// </summary>
public sealed class SynapticDampeningTests(ITestOutputHelper output)
{
    const string File = "ssd_w4_s16.safetensors";
    const double Factor = 2;
    /// <summary>
    /// A floor for when PyTorch's own fp32 run rounds luckily: a dampened value is theta lambda imp_D / imp_f, its error theta
    /// times the relative error of two float32 sums of squared (or absolute) eval-mode gradients, each within about 1e-6 of its
    /// tensor's scale (EvalModeGradientTests); 2e-6 of the largest change is far below a wrong selection or factor (O(1)).
    /// Measured: SSD 2.3e-7 (PyTorch fp32 3.1e-7), LFSSD 6.5e-7 (PyTorch fp32 4.8e-7).
    /// </summary>
    const double Floor = 2e-6;
    /// <summary>|log ratio| below which float32 rounding of the importances may decide the selection (1e-3: a relative error of
    /// 0.1% in imp_f / imp_D, which two float32 sums of a few squared gradients stay well inside).</summary>
    const double SelectionMargin = 1e-3;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DampensTheSameParametersToTheSameValuesAsPyTorch(bool labelFree)
    {
        string v = labelFree ? "lfssd" : "ssd";
        var f = FixtureFile.Open(File);
        var raw = WeightsFile.Load(Path.Combine(FixtureFile.Folder, File)).Tensors;
        double[] Doubles(string name) => Enumerable.Range(0, (int)raw[name].ElementCount).Select(i => raw[name].ElementAsDouble(i)).ToArray();
        var labels = f.Longs("data.labels").Select(l => (byte)l).ToArray();
        var pixels = f.Longs("data.streams").SelectMany(s => HashedParameters.Bytes(3 * 16 * 16, (int)s)).ToArray();
        var train = new ImageDataset("tiny", pixels, labels, 3, 16, 16, Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray());
        var fixtureSettings = Doubles("settings");
        UnlearningMethod method = labelFree ? new Lfssd() : new Ssd();
        var defaults = method.Defaults;
        // The fixture ran the sources' alpha and lambda (the methods' defaults), in batches of 4.
        Assert.Equal([defaults["--ssd-alpha"], defaults["--ssd-lambda"], 4], fixtureSettings);
        float alpha = (float)fixtureSettings[0], lambda = (float)fixtureSettings[1];
        const int batch = 4;
        var config = new ResNet18Config(4, 16, 10);
        var layout = new ResNet18Layout(config);
        var initial = HashedParameters.State(layout);
        foreach (var spec in layout.Tensors.Where(t => t.Role == TensorRole.RunningStat))
            initial[spec.Name] = f.Floats("init." + spec.Name);
        const int forgetClass = 3;

        using var ops = new CpuOps();
        using var model = new ResNet18(ops, config, batch);
        ModelState.Load(model, initial);
        // The parts: importances, then the dampening with its selection.
        var p0 = new float[layout.ParameterCount];
        ops.Download<float>(model.Parameters.All, p0);
        using var step = new TrainingStep(ops, model);
        int[] forget = train.IndicesOfClass(forgetClass);
        int[] retainByClass = [.. Enumerable.Range(0, 10).Where(c => c != forgetClass).SelectMany(train.IndicesOfClass)];
        Assert.Equal([2, 5, 9, 7, 1, 8, 4], retainByClass);   // class by class, as the fixture's loader
        var forgetImp = SynapticDampening.Importance(step, train, forget, batch, labelFree);
        var fullImp = SynapticDampening.Importance(step, train, [.. retainByClass, .. forget], batch, labelFree);
        var expected = (float[])p0.Clone();
        var selected = new byte[p0.Length];
        long count = SynapticDampening.Dampen(expected, forgetImp, fullImp, alpha, lambda, selected);

        // The whole run on the same model gives the same.
        var outcome = SynapticDampening.Run(step, train, forgetClass, alpha, lambda, batch, labelFree);
        var after = ModelState.Read(model);
        var ran = new float[p0.Length];
        ops.Download<float>(model.Parameters.All, ran);
        Assert.Equal(count, outcome.Dampened);
        Assert.Equal((1, 3), (outcome.ForgetBatches, outcome.FullBatches));   // F: 3 images; R then F: 4, 4, 2
        Assert.Equal(expected, ran);
        foreach (var spec in layout.Tensors.Where(t => t.Role == TensorRole.RunningStat))
            Assert.Equal(initial[spec.Name], after[spec.Name]);

        // Selection against PyTorch's float64 run.
        var sel64 = f.Bytes(v + ".selected64");
        var sel32 = f.Bytes(v + ".selected32");
        var ratio64 = Doubles(v + ".ratio64");
        int differ = 0, differNearThreshold = 0, near = 0;
        for (int i = 0; i < sel64.Length; i++)
        {
            bool close = Math.Abs(Math.Log(ratio64[i])) < SelectionMargin;
            if (close) near++;
            if (selected[i] != sel64[i]) { differ++; if (close) differNearThreshold++; }
        }
        int theirsDiffer = sel32.Zip(sel64, (a, b) => a != b ? 1 : 0).Sum();
        output.WriteLine($"{v}: {count} of {p0.Length} parameters dampened, PyTorch fp64 {sel64.Sum(b => b)}; selections that differ: ours {differ} " +
                         $"({differNearThreshold} within {SelectionMargin} of the threshold, where {near} parameters lie), PyTorch fp32 {theirsDiffer}");
        Assert.True(count > 10, $"only {count} parameters dampened: the fixture does not exercise the selection");
        Assert.Equal(differ, differNearThreshold);

        // Values against PyTorch's float64 run, over the parameters both select alike.
        var after64 = Doubles(v + ".after64");
        var after32 = f.Floats(v + ".after32");
        double change = 0, ours = 0, theirs = 0;
        for (int i = 0; i < p0.Length; i++) change = Math.Max(change, Math.Abs(after64[i] - p0[i]));
        for (int i = 0; i < p0.Length; i++)
        {
            if (selected[i] != sel64[i]) continue;
            ours = Math.Max(ours, Math.Abs(ran[i] - after64[i]) / change);
            theirs = Math.Max(theirs, Math.Abs(after32[i] - after64[i]) / change);
        }
        double allowed = Math.Max(Factor * theirs, Floor);
        output.WriteLine($"{v}: parameters after dampening, max |diff| from PyTorch fp64 over the largest change {change:E3}: ours {ours:E2}, " +
                         $"PyTorch fp32 {theirs:E2}; allowed {allowed:E2}");
        Assert.True(ours <= allowed, $"{v}: ours {ours:E2} from PyTorch fp64, allowed {allowed:E2}");
    }

    [Fact]
    public void DampenFollowsTheSourcesRuleOnKnownValues()
    {
        // imp_f > alpha imp_D selects; the factor lambda imp_D / imp_f is bounded by 1; equality does not select.
        float[] p = [2f, 2f, 2f, 2f, -3f];
        float[] impF = [10f, 10f, 1f, 0f, 4f];
        float[] impD = [0.5f, 1f, 1f, 0f, 0f];
        var selected = new byte[5];
        long count = SynapticDampening.Dampen(p, impF, impD, alpha: 10f, lambda: 1f, selected);
        Assert.Equal(2, count);
        Assert.Equal([2f * 0.05f, 2f, 2f, 2f, 0f], p);   // 0.5/10; 10 = 10 x 1 not selected; 0 > 0 not; imp_D 0: factor 0
        Assert.Equal(new byte[] { 1, 0, 0, 0, 1 }, selected);
        float[] q = [1f];
        SynapticDampening.Dampen(q, [5f], [0.1f], alpha: 10f, lambda: 100f);
        Assert.Equal([1f], q);   // 100 x 0.1 / 5 = 2, bounded by 1
    }

    [Fact]
    public void TheMethodsCarryTheSourcesDefaultsAndRefuseSettingsOutOfRange()
    {
        foreach (UnlearningMethod m in new UnlearningMethod[] { new Ssd(), new Lfssd() })
        {
            Assert.Same(m.GetType(), MethodRegistry.Find(m.OptionName).GetType());
            var d = m.Defaults;
            Assert.Equal((10.0, 1.0, 64, false, false), (d["--ssd-alpha"], d["--ssd-lambda"], d.BatchSize, d.Shuffle, d.Augment));
            Assert.Contains("alpha 10, lambda 1", m.Describe(d));
            Assert.Contains("--ssd-alpha", Assert.Throws<ArgumentException>(() => d.With("--ssd-alpha", 0).Validate()).Message);
            Assert.Contains("--ssd-lambda", Assert.Throws<ArgumentException>(() => d.With("--ssd-lambda", -1).Validate()).Message);
        }
    }

    /// <summary>Through the registry's loop: the model's parameters change, the running statistics do not, no step is taken.</summary>
    [Fact]
    public void RunsThroughTheMethodFamily()
    {
        var f = FixtureFile.Open(File);
        var labels = f.Longs("data.labels").Select(l => (byte)l).ToArray();
        var pixels = f.Longs("data.streams").SelectMany(s => HashedParameters.Bytes(3 * 16 * 16, (int)s)).ToArray();
        var train = new ImageDataset("tiny", pixels, labels, 3, 16, 16, Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray());
        var config = new ResNet18Config(4, 16, 10);
        var layout = new ResNet18Layout(config);
        var initial = HashedParameters.State(layout);
        foreach (var spec in layout.Tensors.Where(t => t.Role == TensorRole.RunningStat))
            initial[spec.Name] = f.Floats("init." + spec.Name);
        using var ops = new CpuOps();
        using var model = new ResNet18(ops, config, 4);
        ModelState.Load(model, initial);
        var notes = new List<string>();
        var (steps, images) = MethodRun.Run(model, train, 3, new Ssd().Defaults with { BatchSize = 4 }, note: notes.Add);
        var after = ModelState.Read(model);
        Assert.Equal((0, 3L + 10), (steps, images));
        var dampened = f.Bytes("ssd.selected64");
        int changed = layout.Tensors.Where(t => t.Role == TensorRole.Parameter).Sum(t => after[t.Name].Zip(initial[t.Name], (a, b) => a != b ? 1 : 0).Sum());
        Assert.InRange(changed, 1, dampened.Sum(b => b));
        // The run says how many it dampened (a selected parameter always changes unless it is 0: its factor is below
        // lambda / alpha = 0.1), over 1 forget batch and 3 full batches of 4.
        string note = Assert.Single(notes);
        Assert.Equal(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"dampened {changed:N0} of {layout.ParameterCount:N0} parameters (importances over 1 forget and 3 full batches)"), note);
        foreach (var spec in layout.Tensors.Where(t => t.Role == TensorRole.RunningStat))
            Assert.Equal(initial[spec.Name], after[spec.Name]);
    }

    /// <summary>A run that dampens nothing says so, and why: the forget set's share of the full importance's batches bounds the
    /// ratio imp_f / imp_D (Fashion-MNIST's 200 forget of 2,000 images in batches of 64: 4 of 32 batches, so alpha below about 8).</summary>
    [Fact]
    public void ARunThatDampensNothingSaysWhy()
    {
        string none = SynapticDampening.Describe(new SynapticDampening.Outcome(0, 703_578, 4, 32), 10f, 200, 2000);
        Assert.StartsWith("WARNING: dampened 0 of 703,578 parameters (importances over 4 forget and 32 full batches): the model is unchanged.", none);
        Assert.Contains("200 of 2,000 training images are 4 of the 32 batches", none);
        Assert.Contains("alpha is below about 8 (here 10); try a smaller --ssd-alpha", none);
        Assert.Equal("dampened 12 of 703,578 parameters (importances over 4 forget and 32 full batches)",
            SynapticDampening.Describe(new SynapticDampening.Outcome(12, 703_578, 4, 32), 10f, 200, 2000));
    }
}
