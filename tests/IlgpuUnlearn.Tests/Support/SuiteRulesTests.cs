using System.Text.RegularExpressions;

namespace IlgpuUnlearn.Tests.Support;

/// <summary>
/// The suite's own rules, checked on its sources: no test passes by returning before it asserts (a test whose input may be
/// missing skips visibly, <see cref="FashionMnistInstalledFactAttribute"/>), no assertion on the wall clock, and the slow
/// tests carry the trait that lets the fast ones run alone.
/// </summary>
public sealed partial class SuiteRulesTests
{
    static IEnumerable<(string File, string Text)> TestSources() =>
        Directory.GetFiles(Path.Combine(Repository.Root, "tests"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && Path.GetFileName(f) != "SuiteRulesTests.cs")   // this file names what it looks for
            .Select(f => (Path.GetRelativePath(Repository.Root, f), File.ReadAllText(f)));

    /// <summary>A bare "return;" (a test method has nothing else to return) is an early exit; the test server's accept loop is the one helper that needs it.</summary>
    [Fact]
    public void NoTestReturnsBeforeAsserting()
    {
        var found = TestSources()
            .Where(s => !s.File.EndsWith("LocalHttpServer.cs", StringComparison.Ordinal))
            .SelectMany(s => BareReturn().Matches(s.Text).Select(m => $"{s.File}: {m.Value.Trim()}"))
            .ToList();
        Assert.True(found.Count == 0, "tests that return early:\n" + string.Join("\n", found));
        Assert.True(TestSources().Count() > 50);   // the scan saw the suite
    }

    [GeneratedRegex(@"[^\n]*\breturn;[^\n]*")]
    private static partial Regex BareReturn();

    [Fact]
    public void NoAssertionReadsTheClock()
    {
        var found = TestSources().Where(s => Regex.IsMatch(s.Text, @"Stopwatch\.StartNew|new Stopwatch\(") || Regex.IsMatch(s.Text, @"Assert\.\w+\([^;]*\.Elapsed"))
            .Select(s => s.File).ToList();
        Assert.True(found.Count == 0, "tests that time themselves: " + string.Join(", ", found));
    }

    /// <summary>The tests README and scripts/test-setup.sh name as slow carry the trait that <c>--filter "Category!=Slow"</c> leaves out.</summary>
    [Fact]
    public void TheSlowTestsAreTaggedSo()
    {
        string all = string.Concat(TestSources().Select(s => s.Text));
        Assert.True(Regex.Matches(all, @"\[Trait\(""Category"", ""Slow""\)\]").Count >= 20);
        string fuzz = TestSources().Single(s => s.File.EndsWith("FuzzTests.cs", StringComparison.Ordinal)).Text;
        Assert.Contains("[Trait(\"Category\", \"Slow\")]", fuzz, StringComparison.Ordinal);
        Assert.Contains("--filter \"Category!=Slow\"", File.ReadAllText(Repository.File("README.md")), StringComparison.Ordinal);
    }
}
