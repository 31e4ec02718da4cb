-- bench/wrk-routes.lua — wrk-report.lua plus a list of requests: init(args) reads args[1], one "host path" a
-- line (or "host path cookie": that cookie replaces the command line's), and every request takes the next one
-- (cycling), with the command line's headers and that Host.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "wrk-report.lua")

local report_init = init
local requests = {}
local count = 0
local nxt = 0

function init(args)
  report_init(args)
  local file = assert(io.open(args[1], "r"), "wrk-routes.lua: cannot open the request list " .. tostring(args[1]))
  for line in file:lines() do
    -- "host path", or "host path cookie" (the routes rows: each host's own session cookie)
    local host, path, cookie = line:match("^(%S+) (%S+) ?(%S*)$")
    if host then
      local headers = {}
      for name, value in pairs(wrk.headers) do
        if cookie == "" or name:lower() ~= "cookie" then headers[name] = value end
      end
      if cookie ~= "" then headers["Cookie"] = cookie end
      headers["Host"] = host
      count = count + 1
      requests[count] = wrk.format("GET", path, headers)
    end
  end
  file:close()
  assert(count > 0, "wrk-routes.lua: empty request list")
end

function request()
  nxt = nxt % count + 1
  return requests[nxt]
end
