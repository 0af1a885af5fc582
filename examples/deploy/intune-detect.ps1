<#
.SYNOPSIS
    Intune remediation, detection script: is this user's MicroSIP set up as the manifest says?

.DESCRIPTION
    Runs `microsip-provision plan --exit-code` for the signed-in user's %APPDATA%\MicroSIP and
    maps its exit code to what Intune expects from a detection script:
      tool exit 0 (nothing to change)           -> exit 0, compliant
      tool exit 3 (changes pending)              -> exit 1, non-compliant: intune-remediate.ps1 runs
      tool exit 1 or 2 (failure, bad manifest)   -> exit 1, with the error as output
    The line written to standard output is what Intune shows as the detection output.

    Intune (Devices > Scripts and remediations > Create script package):
      Detection script file:                              intune-detect.ps1
      Remediation script file:                            intune-remediate.ps1
      Run this script using the logged-on credentials:    Yes
      Enforce script signature check:                     No (or sign both scripts)
      Run script in 64-bit PowerShell:                    Yes

    "Logged-on credentials = Yes" matters: as SYSTEM, %APPDATA% is
    C:\Windows\System32\config\systemprofile\AppData\Roaming and %USERNAME% is the computer
    account (PC01$), so the tool would look at SYSTEM's MicroSIP profile, find no such user in
    the manifest, and report "compliant" for a profile it never saw; SYSTEM also reaches the
    network as the computer account, which cannot read the user's password file.

    microsip-provision.exe is installed by a Win32 app to %ProgramFiles%\microsip-provision.
#>

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
    Write-Output "non-compliant: $Exe is not installed"
    exit 1
}
$null = New-Item -ItemType Directory -Force -Path $LogDir

# Standard output is the JSON report; standard error (as ErrorRecords) the diagnostics.
$ErrorActionPreference = 'Continue'
$output = & $Exe plan $Manifest --exit-code --format json --log-file $Log 2>&1
$rc = $LASTEXITCODE
$stdout = @($output | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] })
$stderr = @($output | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })

switch ($rc) {
    0 {
        Write-Output 'compliant: MicroSIP is set up as the manifest says'
        exit 0
    }
    3 {
        $what = ''
        try {
            $report = ($stdout -join "`n") | ConvertFrom-Json
            if ($report.changes) {
                $keys = foreach ($change in $report.changes) {
                    if ($change.key) { "[$($change.section)] $($change.key)" } else { "[$($change.section)]" }
                }
                $what = ': ' + (@($keys) -join ', ')
            }
        } catch {
            $what = ''
        }
        Write-Output (Limit "non-compliant: changes pending$what")
        exit 1
    }
    default {
        Write-Output (Limit "non-compliant: the check failed (exit code $rc): $($stderr -join ' ')")
        exit 1
    }
}
