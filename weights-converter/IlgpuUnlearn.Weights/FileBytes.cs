namespace IlgpuUnlearn.Weights;

/// <summary>Reading whole files with the errors this library reports.</summary>
internal static class FileBytes
{
    /// <summary>The largest file read whole into memory (the limit of one .NET array).</summary>
    public static readonly long MaximumLength = Array.MaxLength;

    public static byte[] ReadAll(string path)
    {
        using FileStream stream = OpenRead(path);
        if (stream.Length > MaximumLength)
        {
            throw new WeightsFormatException(path, $"the file is {stream.Length} bytes, more than the {MaximumLength} this reader handles");
        }
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    public static FileStream OpenRead(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            string reason = e switch
            {
                FileNotFoundException or DirectoryNotFoundException => "no such file",
                UnauthorizedAccessException => "permission denied",
                _ => e.Message,
            };
            throw new WeightsFormatException(path, $"cannot open the file: {reason}", e);
        }
    }
}
