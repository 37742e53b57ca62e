-- Argo CD health check for every Convoy kind (API group convoy.dev): install it under the wildcard key
-- `convoy.dev/*` of argocd-cm's `resource.customizations` (docs/gitops.md has the snippet).
-- Argo CD runs it without Lua's standard libraries (no `string`), so it uses the base library only.
--
--   WorkflowRun  Succeeded -> Healthy; Failed, RollingBack, RolledBack, Aborted -> Degraded;
--                Paused, WaitingForApproval, WaitingAtBarrier, WaitingForIntervention -> Suspended (a person
--                must decide: resume, approve, ...); Pending, Queued, Running -> Progressing
--   PipelineRun  Succeeded -> Healthy; Failed, Aborted -> Degraded; WaitingForApproval -> Suspended;
--                Pending, Running -> Progressing
--   Rollback     Succeeded -> Healthy; Failed, Refused -> Degraded; Pending, Running -> Progressing
--   Workflow, Pipeline   condition Ready True -> Healthy, False (the spec is refused) -> Degraded
--   Grant        Healthy (it has no status)
-- Anything with no status yet, or whose status.observedGeneration is below its metadata.generation (a
-- decision the operator has not seen yet), is Progressing.

local PHASES = {
  WorkflowRun = {
    Succeeded = "Healthy",
    Failed = "Degraded",
    RollingBack = "Degraded",
    RolledBack = "Degraded",
    Aborted = "Degraded",
    Paused = "Suspended",
    WaitingForApproval = "Suspended",
    WaitingAtBarrier = "Suspended",
    WaitingForIntervention = "Suspended",
  },
  PipelineRun = {
    Succeeded = "Healthy",
    Failed = "Degraded",
    Aborted = "Degraded",
    WaitingForApproval = "Suspended",
  },
  Rollback = {
    Succeeded = "Healthy",
    Failed = "Degraded",
    Refused = "Degraded",
  },
}

local function condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function health(obj)
  if obj.kind == "Grant" then
    return { status = "Healthy", message = "" }
  end
  local status = obj.status
  if status == nil then
    return { status = "Progressing", message = "Waiting for the Convoy operator" }
  end
  local generation = obj.metadata.generation
  local observed = status.observedGeneration
  if generation ~= nil and observed ~= nil and observed < generation then
    local waiting = "Waiting for the Convoy operator to observe generation " .. generation
    return { status = "Progressing", message = waiting }
  end
  local phases = PHASES[obj.kind]
  if phases == nil then
    local ready = condition(status, "Ready")
    if ready == nil then
      return { status = "Progressing", message = "Waiting for the Convoy operator" }
    end
    if ready.status == "True" then
      return { status = "Healthy", message = ready.message or "" }
    end
    return { status = "Degraded", message = ready.message or "" }
  end
  local phase = status.phase or "Pending"
  local message = phase
  if status.message ~= nil and status.message ~= "" then
    message = phase .. ": " .. status.message
  end
  return { status = phases[phase] or "Progressing", message = message }
end

return health(obj)
