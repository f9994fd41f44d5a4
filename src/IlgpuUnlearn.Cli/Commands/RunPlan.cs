using IlgpuUnlearn.Data;

namespace IlgpuUnlearn.Cli.Commands;

/// <summary>
/// What one forget class of a run writes. The report and pictures are written before the model, so that a model on disk
/// always has its report, and a class whose model and report both exist is finished (what <c>--resume</c> skips).
/// </summary>
/// <param name="Model">The unlearned model; null when the verb writes none (eval).</param>
/// <param name="Report">This class's report as JSON; null when none was asked for.</param>
/// <param name="Pictures">Confusion-matrix pictures (.svg or .png).</param>
/// <param name="Seed">unlearn --seeds: the seed of this run (its outputs named _s&lt;seed&gt;); null for a run without --seeds.</param>
internal sealed record ClassOutputs(int ForgetClass, string? Model, string? Report, IReadOnlyList<string> Pictures, int? Seed = null)
{
    public bool Done => Model is not null && File.Exists(Model) && (Report is null || File.Exists(Report));
}

/// <summary>
/// A run checked before anything is loaded: the dataset and its class names, the classes to forget and what each writes
/// (every folder created, every location known to be writable), the devices (present on this machine), and the subset.
/// The verbs build one from their options (<see cref="PlanChecks"/> does each check), then load, then work; so a wrong
/// name, device or output location costs a second, not a download or an epoch.
/// </summary>
internal sealed class RunPlan
{
    public required DatasetKind Dataset { get; init; }

    /// <summary>--data as given (checked to exist), or null for the default (the download, or Debian's folder).</summary>
    public required string? DataPath { get; init; }

    /// <summary>--weights as given (checked to exist), or null for the downloaded base model.</summary>
    public string? WeightsPath { get; init; }

    public required IReadOnlyList<string> ClassNames { get; init; }

    /// <summary>Every class of the run, in order, with its outputs (with --seeds, each class once per seed, seeds in order).</summary>
    public required IReadOnlyList<ClassOutputs> Classes { get; init; }

    /// <summary>One or more devices; with several, classes run in parallel, one per device.</summary>
    public required IReadOnlyList<DeviceSpec> Devices { get; init; }

    /// <summary>No --device was given: the default was chosen (said when the device opens).</summary>
    public bool DefaultDevice { get; init; }

    /// <summary>The whole run's report as JSON (one object, or an array for several classes); null for none.</summary>
    public string? Json { get; init; }

    /// <summary>--limit: at most this many images of each split (the first Limit / classes of each class).</summary>
    public int? Limit { get; init; }

    /// <summary>--mean/--std as given (checked), or null: the model's default normalisation (DataChoice.FitModel).</summary>
    public string? Mean { get; init; }
    public string? Std { get; init; }

    /// <summary>unlearn --seeds: per forget class, where the report merged over its seeds goes; null without --seeds.</summary>
    public IReadOnlyDictionary<int, string>? SeedsReports { get; init; }

    /// <summary>--resume: classes already <see cref="ClassOutputs.Done"/> are read back, not run again.</summary>
    public bool Resume { get; init; }

    /// <summary>The classes still to run.</summary>
    public IReadOnlyList<ClassOutputs> ToRun => Resume ? Classes.Where(c => !c.Done).ToList() : Classes;
}

/// <summary>The checks a <see cref="RunPlan"/> is built with; each failure is a <see cref="UserError"/> naming the option.</summary>
internal static class PlanChecks
{
    public static readonly string[] ModelExtensions = [".pth", ".pt", ".safetensors"];
    public static readonly string[] PictureExtensions = [".svg", ".png"];

    public static DatasetKind Dataset(string name)
    {
        try
        {
            return DatasetLoader.ParseKind(name);
        }
        catch (ArgumentException)
        {
            throw new UserError($"--dataset '{name}' is not a dataset: use cifar10, fashion-mnist or synthetic");
        }
    }

    /// <summary>"3", "cat" (any case) or, where <paramref name="allowAll"/>, "all" -> class indices.</summary>
    public static int[] ForgetClasses(string text, IReadOnlyList<string> classNames, bool allowAll = true)
    {
        text = text.Trim();
        if (text.Equals("all", StringComparison.OrdinalIgnoreCase))
            return allowAll ? Enumerable.Range(0, classNames.Count).ToArray() : throw new UserError("--forget-class all: this verb takes one class");
        if (int.TryParse(text, out int k))
        {
            if (k >= 0 && k < classNames.Count) return [k];
            throw new UserError($"--forget-class {k} is outside 0..{classNames.Count - 1}");
        }
        for (int i = 0; i < classNames.Count; i++)
            if (string.Equals(classNames[i], text, StringComparison.OrdinalIgnoreCase)) return [i];
        throw new UserError($"--forget-class '{text}' is not a class index, a class name ({string.Join(", ", classNames)}){(allowAll ? " or 'all'" : "")}");
    }

    /// <summary>
    /// --device: one name ("cuda", "cuda:1", "cpu", "ilgpu-cpu") or, where <paramref name="allowSeveral"/>, a comma-separated
    /// list; each CUDA index must exist here. Null or empty: cuda when a CUDA GPU is present, else cpu.
    /// </summary>
    public static (IReadOnlyList<DeviceSpec> Devices, bool IsDefault) Devices(string? text, bool allowSeveral)
    {
        if (string.IsNullOrWhiteSpace(text)) return ([new DeviceSpec(IlgpuUnlearn.Devices.DefaultKind())], true);
        var specs = new List<DeviceSpec>();
        foreach (string part in text.Split(','))
        {
            if (!IlgpuUnlearn.Devices.TryParseSpec(part, out var spec))
                throw new UserError($"--device '{part.Trim()}' is not a device: use cuda, cuda:N (N from 0), cpu or ilgpu-cpu{(allowSeveral ? ", or several separated by commas" : "")}");
            specs.Add(spec);
        }
        if (specs.Count > 1 && !allowSeveral)
            throw new UserError($"--device {text}: several devices run several classes at once; give them with unlearn --forget-class all");
        if (specs.Any(s => s.Kind == DeviceKind.Cuda))
        {
            int count = IlgpuUnlearn.Devices.CudaDeviceCount();
            var missing = specs.FirstOrDefault(s => s.Kind == DeviceKind.Cuda && s.Index >= count);
            if (missing.Kind == DeviceKind.Cuda && missing.Index >= count)
                throw new UserError(count == 0
                    ? $"--device {missing}: no CUDA GPU found (no NVIDIA driver, or none visible; ilgpu-unlearn devices --diagnose says which); use --device cpu"
                    : $"--device {missing}: there {(count == 1 ? "is 1 CUDA GPU (cuda:0)" : $"are {count} CUDA GPUs (cuda:0 to cuda:{count - 1})")}");
        }
        return (specs, false);
    }

    /// <summary>An input file or folder the user named must exist.</summary>
    public static string? InputPath(string? path, string option)
    {
        if (path is null) return null;
        if (path.Trim().Length == 0) throw new UserError($"{option} is empty");
        if (!File.Exists(path) && !Directory.Exists(path)) throw new UserError($"{option} {path}: no such file or folder");
        return path;
    }

    public static int AtLeast(int value, int minimum, string option) =>
        value >= minimum ? value : throw new UserError($"{option} must be at least {minimum}, got {value}");

    /// <summary>
    /// A file the run will write: not a folder, with one of <paramref name="extensions"/> (any when empty), its folder
    /// writable or creatable (created by <see cref="CreateFolders"/> after the checks). Returns the path as given.
    /// </summary>
    public static string OutputFile(string path, string option, params string[] extensions)
    {
        if (path.Trim().Length == 0) throw new UserError($"{option} is empty");
        if (Directory.Exists(path)) throw new UserError($"{option} {path} is a folder; name a file");
        if (extensions.Length > 0 && !extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase))
            throw new UserError($"{option} {path}: use a {string.Join(" or ", extensions)} file name");
        OutputFolder(Path.GetDirectoryName(Path.GetFullPath(path))!, option, path);
        return path;
    }

    /// <summary>
    /// The overwrite policy of every verb: an output that exists is refused unless --force, before any work, so that no run
    /// replaces a file without being asked to (a refusal costs a rerun; a silent replacement can cost a trained model).
    /// </summary>
    /// <param name="what">What the file is, as the user knows it: the option that names it, or "written beside --out".</param>
    public static void NotReplacing(string path, string what, bool force)
    {
        if (!force && File.Exists(path))
            throw new UserError($"{path} exists ({what}): add --force to replace it, or name another file");
    }

    public const string ForceHelp = "Replace output files that exist (without it, an existing output stops the run before it starts).";

    /// <summary>
    /// A folder the run will write into, checked but not yet created: no file in the way, and the nearest folder that exists
    /// (the folder itself, or the one it would be created in) writable, proven by creating and deleting a file. A missing
    /// folder is created by <see cref="CreateFolders"/> once every check of the verb has passed, so that a refused run leaves
    /// no empty folder behind.
    /// </summary>
    public static string OutputFolder(string folder, string option, string? named = null)
    {
        named ??= folder;
        string? existing = Path.GetFullPath(folder);
        for (; existing is not null && !Directory.Exists(existing); existing = Path.GetDirectoryName(existing))
            if (File.Exists(existing)) throw new UserError($"{option} {named}: {existing} is a file, not a folder");
        if (existing is null) throw new UserError($"{option} {named}: cannot create the folder {folder} (no part of its path exists)");
        string full = Path.GetFullPath(folder);
        Writable(existing, option, named, creating: existing == full ? null : folder);
        lock (Missing)
            if (!Directory.Exists(full) && !Missing.Any(m => m.Folder == full)) Missing.Add((full, option, named));
        return folder;
    }

    /// <summary>The folders <see cref="OutputFolder"/> found missing, to create once the verb's checks are done.</summary>
    static readonly List<(string Folder, string Option, string Named)> Missing = [];

    /// <summary>
    /// Creates the missing output folders the checks found, saying so in one line each on stderr
    /// ("--out runs/a.pth: created the folder /abs/runs"). Verbs call it after their last check, before any work.
    /// </summary>
    public static void CreateFolders()
    {
        lock (Missing)
        {
            foreach (var (folder, option, named) in Missing)
            {
                if (Directory.Exists(folder)) continue;
                try
                {
                    Directory.CreateDirectory(folder);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new UserError($"{option} {named}: cannot create the folder {folder} ({Reason(e)})");
                }
                Console.Error.WriteLine($"{option} {named}: created the folder {folder}");
            }
            Missing.Clear();
        }
    }

    /// <summary>Forgets the folders of a verb that stopped before <see cref="CreateFolders"/> (the CLI runs verbs one after another in one process in tests).</summary>
    public static void ForgetFolders()
    {
        lock (Missing) Missing.Clear();
    }

    static void Writable(string folder, string option, string named, string? creating)
    {
        string probe = Path.Combine(folder, $".ilgpu-unlearn-write-check-{Guid.NewGuid():N}");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string reason = Reason(e).Replace(probe, folder, StringComparison.Ordinal);
            throw new UserError(creating is null ? $"{option} {named}: cannot write into {folder} ({reason})"
                : $"{option} {named}: cannot create the folder {creating} (cannot write into {folder}: {reason})");
        }
    }

    static string Reason(Exception e) => UserFacing.IoReason(e);
}
