using System.Text.Json;
using IlgpuUnlearn.Tests.Support;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cpu;

/// <summary>
/// One case of Fixtures/kl_divergence.json (Fixtures/make_kl_fixtures.py): float32 logits and SCRUB's DistillKL,
/// <c>F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction='sum') * T^2 / N</c>, with its gradient by autograd,
/// in float64 (Loss, Grad) and in float32 (LossFp32, GradFp32).
/// </summary>
public sealed record KlFixtureCase(int N, int Classes, float Temperature, float Range, float[] Student, float[] Teacher,
    double Loss, double[] Grad, double LossFp32, double[] GradFp32)
{
    public static IReadOnlyList<KlFixtureCase> All { get; } = Load();

    public static TheoryData<int> Indices()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < All.Count; i++) data.Add(i);
        return data;
    }

    public override string ToString() => $"N {N} C {Classes} T {Temperature} logits +-{Range}";

    private static List<KlFixtureCase> Load()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureFile.Folder, "kl_divergence.json")));
        static double[] Doubles(JsonElement e) => e.EnumerateArray().Select(v => v.GetDouble()).ToArray();
        // The logits are float32 values written as float64: the cast is exact.
        static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();
        return json.RootElement.GetProperty("cases").EnumerateArray().Select(c => new KlFixtureCase(
            c.GetProperty("n").GetInt32(), c.GetProperty("classes").GetInt32(), (float)c.GetProperty("temperature").GetDouble(),
            (float)c.GetProperty("range").GetDouble(), Floats(c.GetProperty("student")), Floats(c.GetProperty("teacher")),
            c.GetProperty("loss").GetDouble(), Doubles(c.GetProperty("grad")),
            c.GetProperty("loss_fp32").GetDouble(), Doubles(c.GetProperty("grad_fp32")))).ToList();
    }
}

/// <summary>
/// The CPU path's KlDivergence against PyTorch's float64 autograd of SCRUB's DistillKL. The op works in fp64 per row and rounds
/// each output to fp32 once, so it is held to rtol 1e-6 on the loss and atol 1e-9 + rtol 1e-6 on each gradient element
/// (a tenth of that is about one fp32 rounding); PyTorch's own fp32 errors are printed beside ours.
/// </summary>
public sealed class KlDivergenceVersusPyTorchTests(ITestOutputHelper output)
{
    [Fact]
    public void FixtureHoldsTheCasesTheBriefNames()
    {
        var cases = KlFixtureCase.All;
        Assert.Contains(cases, c => c.N == 1 && c.Classes == 10);
        foreach (float temperature in new[] { 1f, 2f, 4f })
            Assert.Contains(cases, c => c.Temperature == temperature && c.Range == 80f);
        Assert.All(cases, c => Assert.Equal(c.N * c.Classes, c.Grad.Length));
    }

    [Theory]
    [MemberData(nameof(KlFixtureCase.Indices), MemberType = typeof(KlFixtureCase))]
    public void MatchesFloat64Autograd(int index)
    {
        var k = KlFixtureCase.All[index];
        using var t = new CpuTestSupport(output);
        var loss = t.Zeros(1);
        var ds = t.Zeros(k.N * k.Classes);
        t.Ops.KlDivergence(k.N, k.Classes, t.Buffer(k.Student), t.Buffer(k.Teacher), k.Temperature, 1f, loss, ds, accumulate: false);
        output.WriteLine($"{k}: PyTorch fp32 loss error {Math.Abs(k.LossFp32 - k.Loss):E2}, " +
                         $"gradient error {k.GradFp32.Zip(k.Grad, (a, b) => Math.Abs(a - b)).Max():E2}");
        t.AssertClose($"{k}: loss", CpuTestSupport.Read(loss), new[] { k.Loss }, 0, 1e-6);
        t.AssertClose($"{k}: dstudent", CpuTestSupport.Read(ds), k.Grad, 1e-9, 1e-6);

        // scale -1 (SCRUB's max step) accumulated onto a gradient already there.
        var prior = CpuTestSupport.Random(new Random(index), k.N * k.Classes);
        var acc = t.Buffer(prior);
        t.Ops.KlDivergence(k.N, k.Classes, t.Buffer(k.Student), t.Buffer(k.Teacher), k.Temperature, -1f, loss, acc, accumulate: true);
        t.AssertClose($"{k}: prior - dstudent", CpuTestSupport.Read(acc), prior.Select((p, i) => p - k.Grad[i]).ToArray(), 1e-9, 1e-6);
    }
}
