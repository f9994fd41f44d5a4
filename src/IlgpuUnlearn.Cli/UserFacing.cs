namespace IlgpuUnlearn.Cli;

/// <summary>Which failures are the user's to fix (bad files, options, devices), and how to say them in one line.</summary>
internal static class UserFacing
{
    public static bool IsExpected(Exception e) => e is ArgumentException or IOException or UnauthorizedAccessException
        or InvalidDataException or FormatException or NotSupportedException or HttpRequestException or UserError
        || e.GetType().Name.EndsWith("FormatException", StringComparison.Ordinal)
        || e.GetType().Name.EndsWith("OutOfMemoryException", StringComparison.Ordinal)
        || e.GetType().Namespace?.StartsWith("IlgpuUnlearn", StringComparison.Ordinal) == true;

    public static string Message(Exception e) => e.Message.ReplaceLineEndings(" ");
}

/// <summary>A failure whose message is written for the user: one line, naming the file or option and what is wrong.</summary>
public sealed class UserError(string message) : Exception(message);
