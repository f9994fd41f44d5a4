using CommandLine;
using CommandLine.Text;
using IlgpuUnlearn.Cli.Commands;
using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Cli;

/// <summary>
/// ilgpu-unlearn: make a CIFAR-10 ResNet18 forget one class (AdvNegGrad), on CUDA through ILGPU or on the CPU.
/// Each verb is a class in Commands/; this file only parses and turns failures into one-line errors.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        // "help unlearn" is "unlearn --help" (the parser alone would list the verbs again).
        if (args is ["help", var verb, ..] && !verb.StartsWith('-')) args = [verb, "--help"];
        if (args is ["--version"] or ["version"])
        {
            Console.WriteLine(VersionLine());
            return 0;
        }
        var parser = new Parser(s => { s.HelpWriter = null; s.CaseInsensitiveEnumValues = true; s.AutoVersion = false; });
        var parsed = parser.ParseArguments<DemoOptions, UnlearnOptions, EvalOptions, DownloadOptions, ConvertOptions, InspectOptions,
            DevicesOptions, BenchOptions, BenchEpochOptions, SelfTestOptions, BenchKernelsOptions, VerifyOptions, ReportOptions, BenchEvalOptions, PlanOptions, TrainOptions>(args);
        if (parsed.Tag == ParserResultType.Parsed && ParserErrors.ValuelessOption(parsed.TypeInfo.Current, args) is { } valueless)
        {
            string verbName = parsed.TypeInfo.Current.GetCustomAttributes(typeof(VerbAttribute), false) is [VerbAttribute v, ..] ? v.Name : "";
            Console.Error.WriteLine($"ilgpu-unlearn: error: --{valueless} is given without its value (ilgpu-unlearn {verbName} --help lists the options)");
            return 2;
        }
        return parsed.MapResult(
            (DemoOptions o) => Run(() => DemoCommand.Run(o)),
            (UnlearnOptions o) => Run(() => UnlearnCommand.Run(o)),
            (EvalOptions o) => Run(() => EvalCommand.Run(o)),
            (DownloadOptions o) => Run(() => DownloadCommand.Run(o)),
            (ConvertOptions o) => Run(() => WeightsCommands.Convert(o)),
            (InspectOptions o) => Run(() => WeightsCommands.Inspect(o)),
            (DevicesOptions o) => Run(() => DevicesCommand.Run(o)),
            (BenchOptions o) => Run(() => BenchCommand.Run(o)),
            (BenchEpochOptions o) => Run(() => BenchEpochCommand.Run(o)),
            (SelfTestOptions o) => Run(() => SelfTestCommand.Run(o)),
            (BenchKernelsOptions o) => Run(() => BenchKernelsCommand.Run(o)),
            (VerifyOptions o) => Run(() => VerifyCommand.Run(o)),
            (ReportOptions o) => Run(() => ReportCommand.Run(o)),
            (BenchEvalOptions o) => Run(() => BenchEvalCommand.Run(o)),
            (PlanOptions o) => Run(() => PlanCommand.Run(o)),
            (TrainOptions o) => Run(() => TrainCommand.Run(o)),
            errors => ShowHelp(parsed, errors, args));
    }

    static int ShowHelp(ParserResult<object> parsed, IEnumerable<Error> errors, string[] args)
    {
        bool asked = errors.Any(e => e.Tag is ErrorType.HelpRequestedError or ErrorType.HelpVerbRequestedError or ErrorType.VersionRequestedError);
        if (!asked && !errors.Any(e => e.Tag == ErrorType.NoVerbSelectedError))
        {
            // A bad option or value: say what is wrong on one line and where the options are listed, not the whole help.
            string verb = parsed.TypeInfo.Current.GetCustomAttributes(typeof(VerbAttribute), false) is [VerbAttribute v, ..] ? " " + v.Name : "";
            var verbs = parsed.TypeInfo.Choices.SelectMany(t => t.GetCustomAttributes(typeof(VerbAttribute), false).OfType<VerbAttribute>()).Select(v => v.Name);
            string what = ParserErrors.Describe(errors, verb.Length > 0 ? parsed.TypeInfo.Current : null, verb.Trim(), args, verbs);
            Console.Error.WriteLine($"ilgpu-unlearn: error: {what} (ilgpu-unlearn{verb} --help lists the {(verb.Length > 0 ? "options" : "verbs")})");
            return 2;
        }
        var help = HelpText.AutoBuild(parsed, h =>
        {
            h.Heading = $"ilgpu-unlearn: machine unlearning ({string.Join(", ", MethodRegistry.All.Select(m => m.Name))}) for a ResNet18 on CIFAR-10 or Fashion-MNIST, on CUDA (ILGPU) or the CPU";
            h.Copyright = "";
            h.AddDashesToOption = true;
            h.AdditionalNewLineAfterOption = false;
            h.MaximumDisplayWidth = 110;
            if (parsed.TypeInfo.Current == typeof(UnlearnOptions)) h.AddPostOptionsLines(MethodChoice.HelpLines());
            return h;
        }, e => e, verbsIndex: true);
        // The parser labels a positional argument "RUN.json (pos. 0)"; the position says nothing the usage line does not, so
        // it is blanked (with as many spaces, keeping the help column aligned).
        string text = System.Text.RegularExpressions.Regex.Replace(help.ToString(), @" \(pos\. \d+\)", m => new string(' ', m.Length));
        (asked ? Console.Out : Console.Error).WriteLine(text);
        return asked ? 0 : 2;
    }

    /// <summary>
    /// "ilgpu-unlearn 1.0.0 (commit 1caf4da)": the package version and, when the build knew it, the git commit it was built
    /// from (the SDK's source-revision id, kept in the informational version after '+').
    /// </summary>
    internal static string VersionLine()
    {
        var assembly = typeof(Program).Assembly;
        string informational = assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            is [System.Reflection.AssemblyInformationalVersionAttribute a, ..] ? a.InformationalVersion : assembly.GetName().Version?.ToString() ?? "unknown";
        int plus = informational.IndexOf('+', StringComparison.Ordinal);
        if (plus < 0) return $"ilgpu-unlearn {informational}";
        string commit = informational[(plus + 1)..];
        return $"ilgpu-unlearn {informational[..plus]} (commit {(commit.Length > 12 ? commit[..12] : commit)})";
    }

    /// <summary>Runs a verb; an expected failure (bad input, missing GPU, out of memory, Ctrl-C) is one line on stderr and exit 1.</summary>
    static int Run(Func<int> verb)
    {
        try
        {
            return verb();
        }
        catch (RunInterruptedException e)
        {
            Console.Error.WriteLine($"ilgpu-unlearn: {UserFacing.Message(e)}");
            return 130;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("ilgpu-unlearn: interrupted; nothing was written");
            return 130;
        }
        catch (Exception e) when (UserFacing.IsExpected(e))
        {
            Console.Error.WriteLine($"ilgpu-unlearn: error: {UserFacing.Message(e)}");
            return 1;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("ILGPU_UNLEARN_DEBUG") is null)
        {
            Console.Error.WriteLine($"ilgpu-unlearn: internal error: {e.GetType().Name}: {e.Message} (set ILGPU_UNLEARN_DEBUG=1 for the stack trace)");
            return 70;
        }
        finally
        {
            PlanChecks.ForgetFolders();
        }
    }
}
