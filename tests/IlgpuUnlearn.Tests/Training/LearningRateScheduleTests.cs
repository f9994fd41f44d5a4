using System.Text.Json;
using IlgpuUnlearn.Tests.Support;
using IlgpuUnlearn.Training;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Training;

public sealed class LearningRateScheduleTests(ITestOutputHelper output)
{
    /// <summary>
    /// Every epoch's rate against PyTorch's own schedulers (Fixtures/make_lr_schedule_fixtures.py steps a real SGD and
    /// CosineAnnealingLR / MultiStepLR / LambdaLR). PyTorch computes cosine recursively from the previous rate, we use the
    /// closed form, and MultiStepLR multiplies by gamma at each milestone while we take gamma^k: both are float64, so the
    /// only difference is accumulated double rounding. Tolerance 1e-12 of the base rate (measured below ~1e-16).
    /// </summary>
    [Fact]
    public void Rates_match_pytorch_schedulers_epoch_by_epoch()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureFile.Folder, "lr_schedules.json")));
        int cases = 0;
        foreach (var c in json.RootElement.GetProperty("cases").EnumerateArray())
        {
            string text = c.GetProperty("schedule").GetString()!;
            double baseRate = c.GetProperty("base_lr").GetDouble();
            var expected = c.GetProperty("rates").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var schedule = LearningRateSchedule.Parse(text, epochs: 1000);
            Assert.Equal(text, schedule.ToString());
            double worst = 0;
            for (int e = 0; e < expected.Length; e++)
            {
                double error = Math.Abs(schedule.RateAt(baseRate, e) - expected[e]);
                worst = Math.Max(worst, error);
                Assert.True(error <= 1e-12 * baseRate, $"{text} epoch {e}: ours {schedule.RateAt(baseRate, e):R}, PyTorch {expected[e]:R}");
            }
            output.WriteLine($"{text} (base {baseRate}): {expected.Length} epochs, worst |ours - PyTorch| {worst:E2}");
            cases++;
        }
        Assert.Equal(6, cases);
    }

    [Fact]
    public void Cosine_without_a_period_takes_T_max_from_the_epochs()
    {
        var s = LearningRateSchedule.Parse("cosine", epochs: 4);
        Assert.Equal(new LearningRateSchedule.Cosine(4), s);
        Assert.Equal(0.05, s.RateAt(0.1, 2), 15);
        Assert.Equal(0.0, s.RateAt(0.1, 4), 15);
    }

    [Theory]
    [InlineData("linear")]
    [InlineData("cosine:0")]
    [InlineData("cosine:x")]
    [InlineData("cosine:5:-1")]
    [InlineData("multistep:80,120")]
    [InlineData("multistep:120,80:0.2")]
    [InlineData("multistep:80:0")]
    [InlineData("constant:1")]
    public void Bad_text_is_a_one_line_error_naming_the_option(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => LearningRateSchedule.Parse(text, 10, "--lr-schedule"));
        Assert.StartsWith($"--lr-schedule '{text}'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
