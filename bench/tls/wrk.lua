-- bench/tls/wrk.lua - wrk helper for bench/tls.sh.
--
-- wrk takes the server name (SNI and Host) from the URL and has no
-- --resolve/--connect-to: this script replaces wrk.resolve so that the
-- connections go to $XB_WRK_ADDR:$XB_WRK_PORT while the URL keeps the bench
-- hostname.  done() prints one machine-readable RESULT line.
local addr = os.getenv("XB_WRK_ADDR")
local port = os.getenv("XB_WRK_PORT") or "443"

if addr then
	wrk.resolve = function(host, service)
		wrk.addrs = wrk.lookup(addr, port)
	end
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"RESULT requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p99_us=%d\n",
		summary.requests, summary.duration, summary.bytes,
		e.connect, e.read, e.write, e.status, e.timeout,
		latency:percentile(50), latency:percentile(99)))
end
