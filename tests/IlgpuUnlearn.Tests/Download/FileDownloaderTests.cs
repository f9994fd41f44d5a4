using System.Security.Cryptography;
using IlgpuUnlearn.Download;
using IlgpuUnlearn.Tests.Data;

namespace IlgpuUnlearn.Tests.Download;

public class FileDownloaderTests
{
    private static byte[] Content(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static string Md5(byte[] bytes) => Convert.ToHexStringLower(MD5.HashData(bytes));

    private static DownloadSource Source(string fileName, string? md5 = null, long? minimumSize = null) =>
        new("test file", fileName, new Uri("https://unused.invalid/" + fileName), md5, minimumSize);

    private static FileDownloader Downloader(TempFolder cache, LocalHttpServer server, TextWriter? output = null, bool terminal = false) =>
        new(cache.Path, server.BaseAddress, progressOutput: output ?? TextWriter.Null, progressIsTerminal: terminal);

    [Fact]
    public async Task DownloadsVerifiesAndRenamesIntoTheCache()
    {
        using var server = new LocalHttpServer();
        using var cache = new TempFolder();
        var body = Content(2_500_000, 1);
        server.Serve("/data.bin", new LocalHttpServer.Route(200, body));
        var output = new StringWriter();
        using var downloader = Downloader(cache, server, output);

        string path = await downloader.EnsureAsync(Source("data.bin", Md5(body).ToUpperInvariant()));

        Assert.Equal(cache.File("data.bin"), path);
        Assert.Equal(body, await File.ReadAllBytesAsync(path));
        Assert.Equal(["data.bin"], Directory.GetFiles(cache.Path).Select(f => Path.GetFileName(f)!).ToArray());
        string log = output.ToString();
        Assert.Contains("downloading test file from " + server.BaseAddress + "data.bin (2.5 MB)", log);
        Assert.Contains("done: 2.5 MB", log);
        Assert.DoesNotContain("\r", log);
        Assert.Equal(1, server.RequestCount);
    }

    [Fact]
    public async Task WithoutMd5TheContentLengthMustMatchAndTerminalOutputRedraws()
    {
        using var server = new LocalHttpServer();
        using var cache = new TempFolder();
        var body = Content(300_000, 2);
        server.Serve("/model.pth", new LocalHttpServer.Route(200, body));
        var output = new StringWriter();
        using var downloader = Downloader(cache, server, output, terminal: true);
        string path = await downloader.EnsureAsync(Source("model.pth", minimumSize: 1000));
        Assert.Equal(body, await File.ReadAllBytesAsync(path));
        Assert.Contains("\r[", output.ToString());
        Assert.Contains("100.0%", output.ToString());
    }

    [Fact]
    public async Task Md5MismatchNamesBothHashesAndLeavesNoFile()
    {
        using var server = new LocalHttpServer();
        using var cache = new TempFolder();
        var body = Content(10_000, 3);
        string wrong = Md5(Content(10, 4));
        server.Serve("/data.bin", new LocalHttpServer.Route(200, body));
        using var downloader = Downloader(cache, server);
        var e = await Assert.ThrowsAsync<DownloadException>(() => downloader.EnsureAsync(Source("data.bin", wrong)));
        Assert.Contains("MD5 mismatch", e.Message);
        Assert.Contains(wrong, e.Message);
        Assert.Contains(Md5(body), e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(cache.Path));
    }

    [Fact]
    public async Task HttpErrorNamesTheStatus()
    {
        using var server = new LocalHttpServer();
        using var cache = new TempFolder();
        using var downloader = Downloader(cache, server);
        var e = await Assert.ThrowsAsync<DownloadException>(() => downloader.EnsureAsync(Source("missing.bin")));
        Assert.Equal(404, e.StatusCode);
        Assert.Contains("HTTP 404", e.Message);
        Assert.Contains("missing.bin", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(cache.Path));
    }

    [Fact]
    public async Task ConnectionClosedMidBodyLeavesNoFile()
    {
        using var server = new LocalHttpServer();
        using var cache = new TempFolder();
        var body = Content(400_000, 5);
        server.Serve("/cut.bin", new LocalHttpServer.Route(200, body, CloseAfterBytes: 150_000));
        using var downloader = Downloader(cache, server);
        var e = await Assert.ThrowsAsync<DownloadException>(() => downloader.EnsureAsync(Source("cut.bin", Md5(body))));
        Assert.Contains("cut.bin", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(cache.Path));
    }

    [Fact]
    public async Task UnverifiableOrTooSmallDownloadsAreRefused()
    {
        using var server = new LocalHttpServer();
        using var cache = new TempFolder();
        server.Serve("/nolength.bin", new LocalHttpServer.Route(200, Content(1000, 6), OmitLength: true));
        server.Serve("/small.pth", new LocalHttpServer.Route(200, Content(1000, 7)));
        using var downloader = Downloader(cache, server);
        var e = await Assert.ThrowsAsync<DownloadException>(() => downloader.EnsureAsync(Source("nolength.bin")));
        Assert.Contains("Content-Length", e.Message);
        e = await Assert.ThrowsAsync<DownloadException>(() => downloader.EnsureAsync(Source("small.pth", minimumSize: 40_000_000)));
        Assert.Contains("too small", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(cache.Path));
    }

    [Fact]
    public async Task CachedFileIsUsedWithoutARequest()
    {
        using var server = new LocalHttpServer();
        using var cache = new TempFolder();
        await File.WriteAllTextAsync(cache.File("data.bin"), "already here");
        using var downloader = Downloader(cache, server);
        Assert.True(downloader.IsCached(Source("data.bin")));
        string path = await downloader.EnsureAsync(Source("data.bin", Md5([1, 2, 3])));
        Assert.Equal("already here", await File.ReadAllTextAsync(path));
        Assert.Equal(0, server.RequestCount);
    }

    [Fact]
    public void MirrorAndCacheFolderFollowTheirRules()
    {
        Assert.Null(FileDownloader.ResolveMirror(null, null));
        Assert.Equal("http://m.example/files/", FileDownloader.ResolveMirror(null, "http://m.example/files")!.ToString());
        Assert.Equal("http://a.example/", FileDownloader.ResolveMirror(new Uri("http://a.example"), "http://m.example/")!.ToString());
        Assert.Throws<ArgumentException>(() => FileDownloader.ResolveMirror(null, "not a url"));

        using var noMirror = new FileDownloader("/tmp/x", new Uri("http://m.example/base"), progressOutput: TextWriter.Null);
        Assert.Equal("http://m.example/base/cifar-10-binary.tar.gz", noMirror.AddressOf(DownloadSource.Cifar10Binary).ToString());
        Assert.Equal("/tmp/x/resnet18_cifar10_full.pth", noMirror.CachedPath(DownloadSource.BaseModel));
        Assert.Throws<ArgumentException>(() => noMirror.CachedPath(Source("../escape")));

        Assert.Equal("/xdg/ilgpu-unlearn", DownloadCache.DefaultFolder("/xdg", "/home/u"));
        Assert.Equal("/home/u/.cache/ilgpu-unlearn", DownloadCache.DefaultFolder(null, "/home/u"));
        Assert.Equal("/home/u/.cache/ilgpu-unlearn", DownloadCache.DefaultFolder("relative", "/home/u"));

        Assert.Equal("c32a1d4ab5d03f1284b67883e8d87530", DownloadSource.Cifar10Binary.Md5);
        Assert.Same(DownloadSource.BaseModel, DownloadSource.Known["base-model"]);
    }
}

public sealed class RetrainedModelSourceTests
{
    [Fact]
    public void RetrainedModelIsPublishedBesideTheBaseModel()
    {
        var source = DownloadSource.RetrainedModel("Cat");
        Assert.Equal("resnet18_cifar10_no_cat.pth", source.FileName);
        Assert.Equal(new Uri("https://huggingface.co/jaeunglee/resnet18-cifar10-unlearning/resolve/main/resnet18_cifar10_no_cat.pth"), source.Address);
        Assert.Equal(DownloadSource.ModelRepository, DownloadSource.BaseModel.Address.ToString().Replace("resnet18_cifar10_full.pth", "", StringComparison.Ordinal));
        Assert.Throws<ArgumentException>(() => DownloadSource.RetrainedModel("../cat"));
    }
}
