using IlgpuUnlearn.Cli.Commands;
using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Tests.Unlearning;

/// <summary><see cref="MethodRegistry"/>: names unique, defaults valid and naming their method, every method's own setting
/// reachable from the command line, and a method's setting refused for another.</summary>
public sealed class MethodRegistryTests
{
    [Fact]
    public void Names_are_unique_and_each_default_is_valid_and_names_its_method()
    {
        Assert.Equal(MethodRegistry.All.Count, MethodRegistry.All.Select(m => m.OptionName).Distinct().Count());
        Assert.Equal(MethodRegistry.All.Count, MethodRegistry.All.Select(m => m.Name).Distinct().Count());
        foreach (var m in MethodRegistry.All)
        {
            var d = m.Defaults;
            Assert.Same(m, d.Method);
            d.Validate();
            Assert.Same(m, MethodRegistry.Find(m.OptionName.ToUpperInvariant()));
            Assert.False(string.IsNullOrWhiteSpace(m.Source));
            foreach (var p in m.Parameters) p.Check(p.Default);
        }
    }

    [Fact]
    public void Every_methods_own_setting_has_a_command_line_option() =>
        Assert.Empty(MethodChoice.OptionsWithoutProperty());

    [Fact]
    public void An_unknown_method_names_the_known_ones_and_a_foreign_setting_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => MethodRegistry.Find("banana"));
        Assert.Contains(string.Join(", ", MethodRegistry.All.Select(m => m.OptionName)), e.Message);
        Assert.Throws<ArgumentException>(() => MethodRegistry.Find("ft").Defaults.With("--alpha", 0.3));
        var bad = MethodRegistry.Find("advneggrad").Defaults.With("--alpha", 1.5);
        Assert.Equal("--alpha must be in [0, 1], got 1.5", Assert.Throws<ArgumentException>(bad.Validate).Message);
    }
}
