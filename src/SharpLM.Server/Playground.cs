using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace SharpLM.Server;

/// <summary>
/// The built-in playground: static HTML, CSS and JavaScript embedded in this assembly (no CDN, no build step), served at
/// / and /playground. A strict Content-Security-Policy lets the page load only its own files and talk only to this
/// server, so it works offline and cannot leak what is typed into it.
/// </summary>
static class Playground
{
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    sealed record Asset(byte[] Content, string ContentType, string ETag);

    static readonly Dictionary<string, Asset> Assets = Load();

    static Dictionary<string, Asset> Load()
    {
        var assembly = typeof(Playground).Assembly;
        var types = new Dictionary<string, string>
        {
            [".html"] = "text/html; charset=utf-8",
            [".css"] = "text/css; charset=utf-8",
            [".js"] = "text/javascript; charset=utf-8",
            [".svg"] = "image/svg+xml",
        };
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (string name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("Playground/", StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            byte[] content = memory.ToArray();
            string etag = $"\"{Convert.ToHexString(SHA256.HashData(content))[..16]}\"";
            assets[name["Playground/".Length..]] = new Asset(content, types[Path.GetExtension(name)], etag);
        }
        return assets;
    }

    public static void Map(WebApplication app)
    {
        app.MapGet("/", (HttpContext ctx) => Serve(ctx, "index.html"));
        app.MapGet("/playground", (HttpContext ctx) => Serve(ctx, "index.html"));
        app.MapGet("/playground/{file}", (HttpContext ctx, string file) => Serve(ctx, file));
    }

    static IResult Serve(HttpContext ctx, string file)
    {
        if (!Assets.TryGetValue(file, out var asset))
            throw new ApiException(404, $"The playground has no file '{file}'.", code: "not_found");
        var headers = ctx.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.ETag = asset.ETag;
        headers.CacheControl = "no-cache"; // revalidate: a new server version serves its own page at once
        if (ctx.Request.Headers.IfNoneMatch == asset.ETag)
            return Results.StatusCode(StatusCodes.Status304NotModified);
        return Results.Bytes(asset.Content, asset.ContentType);
    }
}
