using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace IlgpuUnlearn.Tests.Support;

/// <summary>
/// An HTML page as a browser loads it: Debian's chromium (which scripts/test-setup.sh installs) in headless mode renders the
/// page and prints its DOM after the load event (--dump-dom). Before rendering, a small collector script is put first in the
/// page's head (the page under test is not changed on disk): it records every script error and every element that fails to
/// load (window 'error' events, capture phase), and on load writes them, and for each &lt;section&gt; its id, its parent element
/// and how many SVG pictures (and how many of those have no width), tables and "absent" notes it holds, as attributes of
/// &lt;html&gt;, which the DOM dump carries back.
/// </summary>
internal static partial class HeadlessChromium
{
    const string Collector = """
        <script>
        window.__errors = [];
        window.addEventListener('error', function (e) {
          window.__errors.push(e.message || ('failed to load: ' + ((e.target && (e.target.src || e.target.href)) || 'an element')));
        }, true);
        window.addEventListener('load', function () {
          var d = document.documentElement;
          d.setAttribute('data-script-errors', JSON.stringify(window.__errors));
          var sections = [].map.call(document.querySelectorAll('section'), function (s) {
            var svgs = s.querySelectorAll('svg');
            var empty = [].filter.call(svgs, function (v) { return v.getBoundingClientRect().width < 1; }).length;
            return { id: s.id, parent: s.parentNode.tagName, svg: svgs.length, emptySvg: empty,
                     table: s.querySelectorAll('table').length, absent: s.querySelectorAll('.absent').length };
          });
          d.setAttribute('data-sections', JSON.stringify(sections));
        });
        </script>
        """;

    /// <summary>What the collector found: the errors, and per section its figures.</summary>
    public sealed record Page(string Dom, string[] Errors, SectionInfo[] Sections);

    public sealed record SectionInfo(string Id, string Parent, int Svg, int EmptySvg, int Table, int Absent);

    /// <summary>Loads <paramref name="htmlPath"/> (a copy with the collector) in headless chromium and returns what it found.</summary>
    public static Page Load(string htmlPath)
    {
        string html = File.ReadAllText(htmlPath);
        int head = html.IndexOf("<head>", StringComparison.OrdinalIgnoreCase);
        Assert.True(head >= 0, $"{htmlPath}: no <head> to put the error collector in");
        string folder = Path.Combine(Path.GetTempPath(), "ilgpu-unlearn-chromium-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string instrumented = Path.Combine(folder, "page.html");
            File.WriteAllText(instrumented, html.Insert(head + "<head>".Length, "\n" + Collector));
            var start = new ProcessStartInfo("chromium")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            // --no-sandbox: the suite may run as root (CI containers), where chromium refuses its sandbox; a profile of its own per
            // run so that parallel runs do not share one; nothing is fetched from outside (the page is a local file).
            foreach (var a in new[] { "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                         $"--user-data-dir={Path.Combine(folder, "profile")}", "--window-size=1280,2000", "--dump-dom", new Uri(instrumented).AbsoluteUri })
                start.ArgumentList.Add(a);
            Process process;
            try
            {
                process = Process.Start(start)!;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                throw new InvalidOperationException("chromium not found: bash scripts/test-setup.sh installs it (Debian's chromium)");
            }
            using (process)
            {
                var stderr = process.StandardError.ReadToEndAsync();
                string dom = process.StandardOutput.ReadToEnd();
                // A guard against a hung browser, not a timing: a page of this size loads in a second or two.
                if (!process.WaitForExit(180_000)) { process.Kill(entireProcessTree: true); Assert.Fail("chromium did not finish within 180 s"); }
                Assert.True(process.ExitCode == 0, $"chromium failed (exit {process.ExitCode}): {stderr.Result}");
                string errors = Attribute(dom, "data-script-errors") ?? throw new Xunit.Sdk.XunitException($"the collector did not run (no load event?); DOM:\n{dom[..Math.Min(dom.Length, 2000)]}");
                string sections = Attribute(dom, "data-sections") ?? "[]";
                var options = new System.Text.Json.JsonSerializerOptions { PropertyNameCaseInsensitive = true };
                return new Page(dom, System.Text.Json.JsonSerializer.Deserialize<string[]>(errors)!,
                    System.Text.Json.JsonSerializer.Deserialize<SectionInfo[]>(sections, options)!);
            }
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    static string? Attribute(string dom, string name)
    {
        var m = Regex.Match(dom, name + "=\"([^\"]*)\"");
        return m.Success ? WebUtility.HtmlDecode(m.Groups[1].Value) : null;
    }

    /// <summary>
    /// Every src, href, xlink:href, action, poster, srcset or data attribute value, and every CSS url(...) or @import, of
    /// <paramref name="html"/> that reaches the network: http://, https:// or a scheme-relative //host.
    /// </summary>
    public static IReadOnlyList<string> NetworkReferences(string html)
    {
        var found = new List<string>();
        foreach (Match m in AttributePattern().Matches(html))
        {
            string value = WebUtility.HtmlDecode(m.Groups["value"].Value).Trim();
            if (Regex.IsMatch(value, @"(^|[\s,])(https?:)?//", RegexOptions.IgnoreCase)) found.Add(m.Value);
        }
        foreach (Match m in CssPattern().Matches(html)) found.Add(m.Value);
        return found;
    }

    [GeneratedRegex("""\b(?<name>src|href|xlink:href|action|poster|srcset|data)\s*=\s*(?:"(?<value>[^"]*)"|'(?<value>[^']*)'|(?<value>[^\s>]+))""", RegexOptions.IgnoreCase)]
    private static partial Regex AttributePattern();

    [GeneratedRegex("""url\(\s*['"]?\s*(https?:)?//[^)]*\)|@import""", RegexOptions.IgnoreCase)]
    private static partial Regex CssPattern();
}
