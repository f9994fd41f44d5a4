using System.Reflection;
using CommandLine;
using CommandLine.Text;

namespace IlgpuUnlearn.Cli;

/// <summary>
/// The command-line parser's errors in a user's words, for one line: a missing argument by its name ("convert needs IN
/// and OUT"), a misspelt option with the nearest real one ("unknown option --foget-class; did you mean --forget-class?"),
/// a misspelt verb with the nearest real one, a value of the wrong kind by what was typed ("--limit abc: expected a whole
/// number"), an option given without its value or more than once, and the parser's own sentence for the rest.
/// </summary>
internal static class ParserErrors
{
    /// <summary>
    /// What is wrong, for the verb whose options class is <paramref name="verbType"/> (null: no verb was recognised).
    /// <paramref name="args"/>: the command line as typed (for the values the parser's errors do not carry);
    /// <paramref name="verbs"/>: every verb's name (for a misspelt verb's suggestion).
    /// </summary>
    public static string Describe(IEnumerable<Error> errors, Type? verbType, string verb, IReadOnlyList<string> args, IEnumerable<string> verbs)
    {
        var list = errors.ToList();
        var options = verbType is null ? [] : verbType.GetProperties().Select(p => p.GetCustomAttribute<OptionAttribute>())
            .Where(a => a is not null).Select(a => a!.LongName).ToList();
        var values = verbType is null ? [] : verbType.GetProperties().Select(p => p.GetCustomAttribute<ValueAttribute>())
            .Where(a => a is not null).Select(a => a!).OrderBy(a => a.Index).ToList();
        var unknown = list.OfType<UnknownOptionError>().Select(u => u.Token).ToList();
        var parts = new List<string>();
        var sentences = SentenceBuilder.Create();
        bool missingValues = false;
        foreach (var error in list)
        {
            switch (error)
            {
                case BadVerbSelectedError b:
                    string? nearVerb = Nearest(b.Token, verbs);
                    parts.Add($"unknown verb {b.Token}" + (nearVerb is null ? "" : $"; did you mean {nearVerb}?"));
                    break;
                case BadFormatConversionError f when f.NameInfo.LongName.Length > 0 && TypedValue(args, f.NameInfo.LongName) is { } next
                                                      && next.StartsWith("--", StringComparison.Ordinal):
                    // "--limit --device cpu": the parser took the next option for the value.
                    parts.Add($"--{f.NameInfo.LongName} is given without its value");
                    break;
                case BadFormatConversionError f when f.NameInfo.LongName.Length > 0:
                    string typed = TypedValue(args, f.NameInfo.LongName) is { } t ? " " + t : "";
                    parts.Add($"--{f.NameInfo.LongName}{typed}: expected {Kind(verbType?.GetProperties().FirstOrDefault(p => p.GetCustomAttribute<OptionAttribute>()?.LongName == f.NameInfo.LongName)?.PropertyType)}");
                    break;
                case RepeatedOptionError r when r.NameInfo.LongName.Length > 0:
                    parts.Add($"--{r.NameInfo.LongName} is given more than once");
                    break;
                case MissingValueOptionError v when v.NameInfo.LongName.Length > 0:
                    parts.Add($"--{v.NameInfo.LongName} is given without its value");
                    break;
                case UnknownOptionError u:
                    string? near = Nearest(u.Token, options);
                    parts.Add($"unknown option {Dashes(u.Token)}" + (near is null ? "" : $"; did you mean --{near}?"));
                    break;
                case MissingRequiredOptionError m when m.NameInfo.LongName.Length == 0 && m.NameInfo.ShortName.Length == 0:
                case SequenceOutOfRangeError s when s.NameInfo.LongName.Length == 0 && s.NameInfo.ShortName.Length == 0:
                    missingValues = true;
                    break;
                case MissingRequiredOptionError m:
                    // "--foget-class" typed for a required --forget-class: the suggestion says it; no second sentence.
                    if (unknown.Any(t => Nearest(t, [m.NameInfo.LongName]) is not null)) break;
                    // "--forget-class" typed last, with nothing after it: the value is what is missing, not the option.
                    if (args.Any(a => a == "--" + m.NameInfo.LongName || a.StartsWith($"--{m.NameInfo.LongName}=", StringComparison.Ordinal)))
                    {
                        parts.Add($"--{m.NameInfo.LongName} is given without its value");
                        break;
                    }
                    parts.Add($"--{m.NameInfo.LongName} is missing (it is required)");
                    break;
                default:
                    string sentence = sentences.FormatError(error);
                    if (sentence.Length > 0) parts.Add(sentence.TrimEnd('.'));
                    break;
            }
        }
        if (missingValues)
        {
            var required = values.Where(v => v.Required || v.Min > 0).Select(v => v.MetaName + (v.Min > 0 ? "..." : "")).ToList();
            string usage = string.Join(" ", values.Select(v => v.Required || v.Min > 0 ? v.MetaName + (v.Min > 0 ? "..." : "") : $"[{v.MetaName}]"));
            parts.Insert(0, $"{verb} needs {Join(required)} (usage: ilgpu-unlearn {verb} {usage} [options])");
        }
        return string.Join("; ", parts.Distinct());
    }

    /// <summary>
    /// The first option of <paramref name="verbType"/> that takes a value but was typed last or right before another
    /// "--" option ("eval m.pth --limit"): the parser lets such an option drop out unseen. Null when every one has a value.
    /// </summary>
    public static string? ValuelessOption(Type verbType, IReadOnlyList<string> args)
    {
        var takesValue = verbType.GetProperties().Where(p => p.PropertyType != typeof(bool) && p.PropertyType != typeof(bool?))
            .Select(p => p.GetCustomAttribute<OptionAttribute>()?.LongName).Where(n => n is { Length: > 0 }).ToHashSet();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--") break;
            if (args[i].StartsWith("--", StringComparison.Ordinal) && takesValue.Contains(args[i][2..])
                && (i + 1 == args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal)))
                return args[i][2..];
        }
        return null;
    }

    /// <summary>The value typed for --<paramref name="name"/> ("--limit abc" or "--limit=abc"), null where none can be found.</summary>
    static string? TypedValue(IReadOnlyList<string> args, string name)
    {
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--" + name) return i + 1 < args.Count ? args[i + 1] : null;
            if (args[i].StartsWith($"--{name}=", StringComparison.Ordinal)) return args[i][(name.Length + 3)..];
        }
        return null;
    }

    /// <summary>The kind of value an option of this type takes, in words: "a whole number", "a number", "one of a, b".</summary>
    static string Kind(Type? type)
    {
        type = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(int) || type == typeof(long) || type == typeof(short) || type == typeof(uint) || type == typeof(ulong)) return "a whole number";
        if (type == typeof(double) || type == typeof(float) || type == typeof(decimal)) return "a number";
        if (type is { IsEnum: true }) return "one of " + string.Join(", ", Enum.GetNames(type).Select(n => n.ToLowerInvariant()));
        return "a value of another kind";
    }

    static string Dashes(string token) => token.StartsWith('-') ? token : (token.Length == 1 ? "-" : "--") + token;

    static string Join(IReadOnlyList<string> names) => names.Count switch
    {
        0 => "an argument",
        1 => names[0],
        _ => string.Join(", ", names.Take(names.Count - 1)) + " and " + names[^1],
    };

    /// <summary>
    /// The name a typo most likely meant (an option, a verb, a method), nearest first: a name the typed text is a prefix of
    /// (3 letters or more), or one within a few edits, close relative to the typed length: one edit for up to 5 characters,
    /// two from 6 ("scrb" is scrub, "unlern" unlearn, but "foo" is not ft). Null when nothing is that close.
    /// </summary>
    internal static string? Nearest(string typed, IEnumerable<string> options)
    {
        typed = typed.TrimStart('-');
        int allowed = typed.Length >= 6 ? 2 : 1;
        return options.Where(o => o.Length > 0)
            .Select(o => (Option: o, Distance: typed.Length >= 3 && o.StartsWith(typed, StringComparison.Ordinal) ? 0 : Edits(typed, o)))
            .Where(c => c.Distance <= allowed)
            .OrderBy(c => c.Distance).ThenBy(c => c.Option, StringComparer.Ordinal)
            .Select(c => c.Option).FirstOrDefault();
    }

    /// <summary>Levenshtein distance: insertions, deletions and substitutions.</summary>
    static int Edits(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }
}
