using System.Text.RegularExpressions;

namespace IlgpuUnlearn.Cli;

/// <summary>Which failures are the user's to fix (bad files, options, devices), and how to say them in one line.</summary>
internal static partial class UserFacing
{
    public static bool IsExpected(Exception e) => e is ArgumentException or IOException or UnauthorizedAccessException
        or InvalidDataException or FormatException or NotSupportedException or HttpRequestException or UserError
        || e.GetType().Name.EndsWith("FormatException", StringComparison.Ordinal)
        || e.GetType().Name.EndsWith("OutOfMemoryException", StringComparison.Ordinal)
        || e.GetType().Namespace?.StartsWith("IlgpuUnlearn", StringComparison.Ordinal) == true;

    /// <summary>
    /// The message on one line, in the user's terms: without .NET's " (Parameter 'name')" suffix, and with the temporary
    /// names that outputs and downloads are written under (".model.pth.&lt;32 hex&gt;.tmp", "….partial") replaced by the
    /// file the user asked for.
    /// </summary>
    public static string Message(Exception e)
    {
        string message = e.Message;
        if (e is ArgumentException { ParamName: { } name })
            message = message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal);
        message = TemporaryName().Replace(message, m => m.Groups["folder"].Value + m.Groups["name"].Value);
        return message.ReplaceLineEndings(" ");
    }

    /// <summary>
    /// Why a file operation failed, in a few words rather than .NET's sentence ("Could not find file '/proc/x'."):
    /// missing file or folder, permission denied, path too long; any other failure keeps its own message.
    /// </summary>
    public static string IoReason(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        FileNotFoundException or DirectoryNotFoundException => "no such file or folder on the way there",
        PathTooLongException => "the path is too long",
        _ => Message(e),
    };

    [GeneratedRegex(@"(?<folder>[^\s'""]*/)?\.(?<name>[^/\s'""]+?)\.[0-9a-f]{32}\.(tmp|partial)")]
    private static partial Regex TemporaryName();
}

/// <summary>A failure whose message is written for the user: one line, naming the file or option and what is wrong.</summary>
public sealed class UserError(string message) : Exception(message);
