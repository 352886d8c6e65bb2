-- wrk script: POSTs the JSON bodies of the file named by $BODIES (one per line), in turn, with
-- the Authorization and (when set) Mcp-Session-Id headers from $KEY and $SESSION.
local bodies = {}
local i = 0

function init(args)
  for line in io.lines(os.getenv("BODIES")) do
    if line ~= "" then bodies[#bodies + 1] = line end
  end
  i = math.random(#bodies)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
  local session = os.getenv("SESSION")
  if session and session ~= "" then wrk.headers["Mcp-Session-Id"] = session end
end

function request()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end

local errors = 0
function response(status, headers, body)
  -- A tool error or a JSON-RPC error is a failed call, like a non-2xx REST answer.
  if status ~= 200 or body:find('"isError":true', 1, true) or body:find('"error":{', 1, true) then
    errors = errors + 1
    if errors <= 3 then io.stderr:write("bad answer (" .. status .. "): " .. body:sub(1, 300) .. "\n") end
  end
end
