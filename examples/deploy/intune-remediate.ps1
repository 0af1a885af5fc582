<#
.SYNOPSIS
    Intune remediation, remediation script: apply the manifest to this user's MicroSIP.

.DESCRIPTION
    Runs when intune-detect.ps1 reported the profile non-compliant. Same settings as the
    detection script, above all "Run this script using the logged-on credentials = Yes" (as
    SYSTEM the tool would write to SYSTEM's own %APPDATA%, not the user's).

    Exit code: 0 when the profile was written or had nothing to change (or was skipped), 1 when
    it failed or the manifest is invalid. The line written to standard output is what Intune
    shows as the remediation output.

    $IfRunning: remediations run while the user works, and MicroSIP rewrites its settings when
    it exits. "stop" closes MicroSIP (microsip.exe /exit), applies and starts it again
    minimized, which ends a call in progress: schedule the package outside office hours, or
    use "skip" (the profile is reported as skipped and the next scheduled run tries again).
#>

$IfRunning = 'stop'
$ProgramFilesDir = if ($env:ProgramW6432) { $env:ProgramW6432 } else { $env:ProgramFiles }
$Exe = Join-Path $ProgramFilesDir 'microsip-provision\microsip-provision.exe'
$Manifest = '\\corp\netlogon\microsip\fleet.toml'
$LogDir = Join-Path $env:LOCALAPPDATA 'microsip-provision'
$Log = Join-Path $LogDir 'intune.log'

function Limit([string] $text) {
    # Intune keeps the first 2048 characters of the output.
    if ($text.Length -gt 2000) { $text.Substring(0, 2000) + '...' } else { $text }
}

if (-not (Test-Path -LiteralPath $Exe)) {
    Write-Output "failed: $Exe is not installed"
    exit 1
}
$null = New-Item -ItemType Directory -Force -Path $LogDir

$ErrorActionPreference = 'Continue'
$output = & $Exe apply $Manifest --if-running $IfRunning --format json --log-file $Log 2>&1
$rc = $LASTEXITCODE
$stdout = @($output | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] })
$stderr = @($output | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })

$summary = "exit code $rc"
try {
    $report = ($stdout -join "`n") | ConvertFrom-Json
    $summary = "$($report.outcome), $(($report.changes | Measure-Object).Count) change(s)"
    if ($report.error) { $summary += ": $($report.error)" }
} catch {
    $summary += ": $($stderr -join ' ')"
}

if ($rc -eq 0) {
    Write-Output (Limit "remediated: $summary")
    exit 0
}
Write-Output (Limit "failed: $summary")
exit 1
