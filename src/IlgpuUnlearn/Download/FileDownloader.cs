using System.Buffers;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace IlgpuUnlearn.Download;

/// <summary>
/// Fetches a <see cref="DownloadSource"/> into the cache folder once: the bytes go to a temporary name in the
/// same folder, are checked (MD5 when known, else the server's Content-Length and a minimum size), and only
/// then renamed to the file's own name. A file already in the cache is used without asking the network.
/// With a mirror (constructor argument, else the ILGPU_UNLEARN_MIRROR variable) every file is fetched from
/// mirror/FileName instead of its own address.
/// </summary>
public sealed class FileDownloader : IDisposable
{
    public const string MirrorVariable = "ILGPU_UNLEARN_MIRROR";
    private const int BufferSize = 1 << 20;

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly TextWriter _progressOutput;
    private readonly bool _progressIsTerminal;

    /// <param name="cacheFolder">Default: $XDG_CACHE_HOME/ilgpu-unlearn or ~/.cache/ilgpu-unlearn.</param>
    /// <param name="mirror">Base address to fetch every file from; default: $ILGPU_UNLEARN_MIRROR, else each file's own address.</param>
    /// <param name="httpClient">Default: a client of this downloader's own.</param>
    /// <param name="progressOutput">Default: stderr.</param>
    /// <param name="progressIsTerminal">Default: whether stderr is a terminal (not redirected).</param>
    public FileDownloader(string? cacheFolder = null, Uri? mirror = null, HttpClient? httpClient = null,
        TextWriter? progressOutput = null, bool? progressIsTerminal = null)
    {
        CacheFolder = Path.GetFullPath(cacheFolder ?? DownloadCache.DefaultFolder());
        Mirror = ResolveMirror(mirror, Environment.GetEnvironmentVariable(MirrorVariable));
        _ownsHttp = httpClient == null;
        _http = httpClient ?? CreateClient();
        _progressOutput = progressOutput ?? Console.Error;
        _progressIsTerminal = progressIsTerminal ?? (progressOutput == null && !Console.IsErrorRedirected);
    }

    public string CacheFolder { get; }

    /// <summary>How long a read may wait for the next bytes of the body before the download is given up.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Where every file is fetched from instead of its own address; null when none.</summary>
    public Uri? Mirror { get; }

    /// <summary>The address <paramref name="source"/> is fetched from.</summary>
    public Uri AddressOf(DownloadSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return Mirror == null ? source.Address : new Uri(Mirror, Uri.EscapeDataString(source.FileName));
    }

    /// <summary>The file's path in the cache, whether or not it is there yet.</summary>
    public string CachedPath(DownloadSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.FileName.Length == 0 || Path.GetFileName(source.FileName) != source.FileName)
            throw new ArgumentException($"'{source.FileName}' is not a plain file name", nameof(source));
        return Path.Combine(CacheFolder, source.FileName);
    }

    public bool IsCached(DownloadSource source) => File.Exists(CachedPath(source));

    /// <summary>The path of the verified file in the cache, downloading it first when it is not there.</summary>
    public async Task<string> EnsureAsync(DownloadSource source, CancellationToken cancellationToken = default)
    {
        string target = CachedPath(source);
        if (File.Exists(target)) return target;

        Directory.CreateDirectory(CacheFolder);
        Uri address = AddressOf(source);
        string temporary = Path.Combine(CacheFolder, $".{source.FileName}.{Guid.NewGuid():N}.partial");
        DownloadProgress? progress = null;
        try
        {
            using var response = await _http.GetAsync(address, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new DownloadException($"{address}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}")
                { Address = address, StatusCode = (int)response.StatusCode };
            }
            long? declared = response.Content.Headers.ContentLength;
            progress = new DownloadProgress(_progressOutput, _progressIsTerminal, source.Description, address, declared);

            using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            long received = 0;
            byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
            try
            {
                using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                await using var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize, useAsync: true);
                // HttpClient.Timeout does not cover the body once the headers are in: each read gets its own limit.
                using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                while (true)
                {
                    stall.CancelAfter(StallTimeout);
                    int n;
                    try
                    {
                        n = await body.ReadAsync(buffer.AsMemory(0, BufferSize), stall.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                    {
                        throw new DownloadException($"{address}: no data for {StallTimeout.TotalSeconds:F0} s after {received} bytes", e) { Address = address };
                    }
                    if (n == 0) break;
                    await file.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    md5.AppendData(buffer, 0, n);
                    received += n;
                    progress.Report(received);
                }
                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            Verify(source, address, declared, received, Convert.ToHexStringLower(md5.GetHashAndReset()));
            File.Move(temporary, target, overwrite: true);
            progress.Complete(received);
            return target;
        }
        catch (Exception e)
        {
            progress?.Abandon();
            DeleteQuietly(temporary);
            if (e is DownloadException or OperationCanceledException) throw;
            if (e is HttpRequestException or IOException)
                throw new DownloadException($"{address}: {e.Message}", e) { Address = address };
            throw;
        }
    }

    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }

    /// <summary>The explicit mirror, else the environment's, else none; a trailing '/' added so file names append.</summary>
    internal static Uri? ResolveMirror(Uri? explicitMirror, string? environmentValue)
    {
        Uri? mirror = explicitMirror;
        if (mirror == null && !string.IsNullOrWhiteSpace(environmentValue))
        {
            if (!Uri.TryCreate(environmentValue.Trim(), UriKind.Absolute, out mirror))
                throw new ArgumentException($"{MirrorVariable}='{environmentValue}' is not an absolute address");
        }
        if (mirror == null) return null;
        string text = mirror.ToString();
        return text.EndsWith('/') ? mirror : new Uri(text + "/");
    }

    private static void Verify(DownloadSource source, Uri address, long? declared, long received, string md5)
    {
        if (declared is { } length && length != received)
            throw new DownloadException($"{address}: received {received} bytes, the server announced {length}") { Address = address };
        if (source.Md5 != null)
        {
            if (!string.Equals(source.Md5, md5, StringComparison.OrdinalIgnoreCase))
                throw new DownloadException($"{address}: MD5 mismatch: expected {source.Md5.ToLowerInvariant()}, got {md5}") { Address = address };
            return;
        }
        if (declared == null)
            throw new DownloadException($"{address}: cannot verify {source.FileName}: no MD5 is known and the server sent no Content-Length") { Address = address };
        if (source.MinimumSize is { } minimum && received < minimum)
            throw new DownloadException($"{address}: {received} bytes is too small for {source.Description} (at least {minimum} expected)") { Address = address };
    }

    private static HttpClient CreateClient()
    {
        var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = true, MaxAutomaticRedirections = 10 })
        {
            // Bounds the wait for the response headers; the body's reads have their own stall limit.
            Timeout = TimeSpan.FromMinutes(2),
        };
        client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("ilgpu-unlearn", "1.0"));
        return client;
    }

    private static void DeleteQuietly(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
