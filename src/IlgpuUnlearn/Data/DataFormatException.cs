namespace IlgpuUnlearn.Data;

/// <summary>
/// A data file is missing, has the wrong size or header, or holds a value outside its range.
/// The message names the file and what is wrong with it.
/// </summary>
public sealed class DataFormatException : Exception
{
    public DataFormatException(string message) : base(message) { }

    public DataFormatException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>The file the problem was found in, when there is one.</summary>
    public string? FilePath { get; init; }

    internal static DataFormatException ForFile(string filePath, string problem) =>
        new($"{filePath}: {problem}") { FilePath = filePath };

    internal static DataFormatException ForFile(string filePath, string problem, Exception inner) =>
        new($"{filePath}: {problem}", inner) { FilePath = filePath };
}
