using System.Net;
using System.Net.Sockets;
using System.Text;

namespace IlgpuUnlearn.Tests.Download;

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1 and a free port, for the downloader's tests: each route answers
/// a status and a body, optionally announcing a different Content-Length, or closing the connection after
/// part of the body. Every request is counted.
/// </summary>
internal sealed class LocalHttpServer : IDisposable
{
    public sealed record Route(int Status, byte[] Body, long? AnnouncedLength = null, bool OmitLength = false, int? CloseAfterBytes = null);

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Dictionary<string, Route> _routes = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _requests;

    public LocalHttpServer()
    {
        _listener.Start();
        BaseAddress = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
        _accepting = Task.Run(AcceptLoop);
    }

    public Uri BaseAddress { get; }

    public int RequestCount => Volatile.Read(ref _requests);

    public void Serve(string path, Route route)
    {
        lock (_routes) _routes[path] = route;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try { _accepting.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        _stop.Dispose();
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { return; }
            _ = Task.Run(() => Handle(client));
        }
    }

    private async Task Handle(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                string path = await ReadRequestPath(stream);
                Interlocked.Increment(ref _requests);
                Route route;
                lock (_routes)
                    route = _routes.TryGetValue(path, out var r) ? r : new Route(404, "not found"u8.ToArray());
                var head = new StringBuilder();
                head.Append("HTTP/1.1 ").Append(route.Status).Append(' ').Append(route.Status == 200 ? "OK" : route.Status == 404 ? "Not Found" : "Error").Append("\r\n");
                if (!route.OmitLength) head.Append("Content-Length: ").Append(route.AnnouncedLength ?? route.Body.Length).Append("\r\n");
                head.Append("Connection: close\r\n\r\n");
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()));
                int count = Math.Min(route.Body.Length, route.CloseAfterBytes ?? int.MaxValue);
                await stream.WriteAsync(route.Body.AsMemory(0, count));
                await stream.FlushAsync();
                // Connection: close, so the end of the body is the end of the connection (the early end, too).
                client.Client.Shutdown(SocketShutdown.Send);
            }
            catch (IOException) { }
            catch (SocketException) { }
        }
    }

    private static async Task<string> ReadRequestPath(NetworkStream stream)
    {
        var request = new StringBuilder();
        var one = new byte[1];
        while (!request.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one) == 0) break;
            request.Append((char)one[0]);
        }
        // "GET /path HTTP/1.1"
        var parts = request.ToString().Split(' ', 3);
        return parts.Length > 1 ? parts[1] : "/";
    }
}
