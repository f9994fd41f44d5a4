namespace IlgpuUnlearn.Download;

/// <summary>
/// A download failed: an HTTP error status, a connection that ended early, or a file whose MD5 or size is not
/// what was expected. The partial file has been deleted by the time this is thrown.
/// </summary>
public sealed class DownloadException : Exception
{
    public DownloadException(string message) : base(message) { }

    public DownloadException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>The address that was asked for.</summary>
    public Uri? Address { get; init; }

    /// <summary>The HTTP status when the server answered with an error.</summary>
    public int? StatusCode { get; init; }
}
