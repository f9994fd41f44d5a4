using System.Diagnostics;
using System.Text;
using System.Text.Json;
using CommandLine;
using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Ilgpu;
using IlgpuUnlearn.IO;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("self-test", HelpText = "Check a device: every op against the CPU path on every ResNet18 layer shape, then the whole network against the PyTorch fixtures. Exit 1 on any failure.")]
public sealed class SelfTestOptions
{
    [Option("device", HelpText = DeviceChoice.Help)]
    public string? Device { get; set; }

    [Option("batch-size", Default = 256, HelpText = "Batch of the op checks.")]
    public int BatchSize { get; set; }

    [Option("width", Default = 64, HelpText = "Base width of the ResNet18 whose layer shapes the op checks use (64: the real network; smaller for ilgpu-cpu).")]
    public int Width { get; set; }

    [Option("image-size", Default = 32, HelpText = "Image size of those layer shapes (32: CIFAR).")]
    public int ImageSize { get; set; }

    [Option("fixtures", HelpText = "Folder of the PyTorch fixtures (resnet18_w8_s16.safetensors, resnet18_w64_s32.safetensors); default: tests/IlgpuUnlearn.Tests/Fixtures under the current folder or above the program.")]
    public string? Fixtures { get; set; }

    [Option("skip-ops", HelpText = "Leave out the op checks (only the network against the PyTorch fixtures).")]
    public bool SkipOps { get; set; }

    [Option("skip-fixtures", HelpText = "Leave out the network against the PyTorch fixtures (only the op checks).")]
    public bool SkipFixtures { get; set; }

    [Option("skip-versions", HelpText = "Check only the kernel versions the program runs, not every other version bench-kernels times (a quicker op check, e.g. on ilgpu-cpu).")]
    public bool SkipVersions { get; set; }

    [Option("json", HelpText = "Also write every result to this JSON file.")]
    public string? Json { get; set; }
}

internal static class SelfTestCommand
{
    const string FixturesInRepository = "tests/IlgpuUnlearn.Tests/Fixtures";

    public static int Run(SelfTestOptions o)
    {
        if (o.BatchSize < 1 || o.Width < 1 || o.ImageSize < 8 || o.ImageSize % 8 != 0)
            throw new UserError("--batch-size and --width must be at least 1, --image-size a multiple of 8");
        if (o.SkipOps && o.SkipFixtures) throw new UserError("--skip-ops and --skip-fixtures together leave nothing to check");
        string? fixtures = o.SkipFixtures ? null : FixturesFolder(o.Fixtures);
        using var ops = DeviceChoice.Open(o.Device);
        var total = Stopwatch.StartNew();
        var report = new Dictionary<string, object> { ["device"] = ops.Name, ["batch_size"] = o.BatchSize };
        bool passed = true;

        if (!o.SkipOps)
        {
            using var reference = new CpuOps();
            if (ops is CpuOps)
                Console.WriteLine("note: the CPU path against itself proves the command, not the kernels (use --device cuda or ilgpu-cpu)");
            var shapes = SelfTestShapes.ResNet18(o.BatchSize, o.Width, o.ImageSize,
                new ResNet18Layout(new ResNet18Config(o.Width, o.ImageSize)).ParameterCount) with { EveryVersion = !o.SkipVersions };
            var lines = new LineRecorder(Console.Out);
            var clock = Stopwatch.StartNew();
            int result = IlgpuSelfTest.Run(ops, reference, lines, shapes);
            lines.Flush();
            bool opsPassed = result == 0;
            passed &= opsPassed;
            report["ops"] = new Dictionary<string, object>
            {
                ["reference"] = reference.Name, ["width"] = o.Width, ["image_size"] = o.ImageSize, ["every_version"] = !o.SkipVersions, ["passed"] = opsPassed,
                ["checks"] = lines.Lines.Count(IsComparisonLine), ["failed"] = lines.Lines.Count(l => l.StartsWith("FAIL", StringComparison.Ordinal)),
                ["seconds"] = clock.Elapsed.TotalSeconds, ["lines"] = lines.Lines,
            };
            Console.WriteLine();
        }

        if (fixtures is not null)
        {
            var checks = new List<Dictionary<string, object>>();
            foreach (var (name, file, check) in FixtureChecks)
            {
                Console.WriteLine($"{name} against PyTorch ({file}) on {ops.Name}");
                var clock = Stopwatch.StartNew();
                var comparisons = check(ops, PyTorchFixture.Load(Path.Combine(fixtures, file)));
                foreach (var c in comparisons) Console.WriteLine("  " + c);
                bool checkPassed = comparisons.Count > 0 && comparisons.All(c => c.Passed);
                passed &= checkPassed;
                Console.WriteLine($"  {(checkPassed ? "passed" : "FAILED")} in {clock.Elapsed.TotalSeconds:F1} s");
                Console.Out.Flush();
                checks.Add(new Dictionary<string, object>
                {
                    ["check"] = name, ["fixture"] = file, ["passed"] = checkPassed, ["seconds"] = clock.Elapsed.TotalSeconds,
                    ["comparisons"] = comparisons.Select(c => new Dictionary<string, object>
                    {
                        ["name"] = c.Name, ["error"] = JsonNumber(c.Error), ["tolerance"] = c.Tolerance, ["passed"] = c.Passed,
                        ["measure"] = c.Measure, ["detail"] = c.Detail,
                    }).ToList(),
                });
            }
            report["fixtures"] = checks;
        }
        report["passed"] = passed;
        report["seconds"] = total.Elapsed.TotalSeconds;
        Console.WriteLine(passed ? $"self-test on {ops.Name}: all passed" : $"self-test on {ops.Name}: FAILED");
        if (o.Json is not null)
            AtomicFile.WriteAllText(o.Json, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return passed ? 0 : 1;
    }

    static readonly (string Name, string File, Func<IOps, PyTorchFixture, List<FixtureComparison>> Check)[] FixtureChecks =
    [
        ("width-8 network, forward and backward", PyTorchFixtureCheck.NarrowFixtureFile, PyTorchFixtureCheck.NarrowForwardBackward),
        ("width-8 network, two AdvNegGrad steps", PyTorchFixtureCheck.NarrowFixtureFile, PyTorchFixtureCheck.NarrowAdvNegGradSteps),
        ("full-width network, forward and backward", PyTorchFixtureCheck.FullWidthFixtureFile, PyTorchFixtureCheck.FullWidthForwardBackward),
        ("grey 1x28x28 network, forward and backward", PyTorchFixtureCheck.GreyFixtureFile, PyTorchFixtureCheck.NarrowForwardBackward),
        ("grey 1x28x28 network, two AdvNegGrad steps", PyTorchFixtureCheck.GreyFixtureFile, PyTorchFixtureCheck.NarrowAdvNegGradSteps),
    ];

    static bool IsComparisonLine(string line) => line.StartsWith("ok  ", StringComparison.Ordinal) || line.StartsWith("FAIL ", StringComparison.Ordinal);

    /// <summary>JSON has no NaN or infinity: those become strings.</summary>
    static object JsonNumber(double value) => double.IsFinite(value) ? value : value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>--fixtures, else the repository's fixture folder under the current folder, else above the program (a build in the repository).</summary>
    static string FixturesFolder(string? given)
    {
        if (given is not null)
            return Directory.Exists(given) ? given : throw new UserError($"--fixtures {given}: no such folder");
        var candidates = new List<string> { Path.Combine(Environment.CurrentDirectory, FixturesInRepository) };
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            candidates.Add(Path.Combine(dir.FullName, FixturesInRepository));
        return candidates.FirstOrDefault(c => File.Exists(Path.Combine(c, PyTorchFixtureCheck.NarrowFixtureFile)))
            ?? throw new UserError($"no PyTorch fixtures found ({FixturesInRepository} under the current folder or above the program): name the folder with --fixtures");
    }

    /// <summary>Passes text through to another writer and keeps each whole line, so what the self-test printed also goes into the JSON.</summary>
    sealed class LineRecorder(TextWriter inner) : TextWriter
    {
        readonly StringBuilder current = new();
        public List<string> Lines { get; } = [];
        public override Encoding Encoding => inner.Encoding;

        public override void Write(char value)
        {
            inner.Write(value);
            if (value == '\n')
            {
                Lines.Add(current.ToString().TrimEnd('\r'));
                current.Clear();
            }
            else current.Append(value);
        }

        public override void Flush() => inner.Flush();
    }
}
