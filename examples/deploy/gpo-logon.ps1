<#
.SYNOPSIS
    Group Policy logon script: provision MicroSIP for the user who is logging on.

.DESCRIPTION
    Assign it in a GPO linked to the users' OU:
      User Configuration > Policies > Windows Settings > Scripts (Logon/Logoff) > Logon >
      PowerShell Scripts > Add: \\corp\netlogon\microsip\gpo-logon.ps1
    PowerShell logon scripts obey the execution policy: sign this script, or set the policy
    "Turn on Script Execution" to "Allow local scripts and remote signed scripts" and keep the
    script on a share in the Local intranet zone.

    It runs as the user, so %APPDATA%\MicroSIP and %USERNAME% are that user's, and the user's own
    credentials read the user's own password file (see README.md, "Secrets").

    Windows runs logon scripts five minutes after logon (Windows 8.1 and later, unless the
    policy "Configure Logon Script Delay" says otherwise), so MicroSIP has usually started by
    then: --if-running stop closes it (microsip.exe /exit), applies, and starts it again
    minimized; the plan before it makes sure that happens only when there is something to
    change.

    Every run appends its JSON lines (the plan's, and the apply's when there was something to
    do) to %LOCALAPPDATA%\microsip-provision\provision.log; the bytes this run added are copied to \\fs01\microsip-reports$\<COMPUTERNAME>-<USERNAME>.jsonl, for
    `microsip-provision report summarize \\fs01\microsip-reports$`.

.PARAMETER Share
    The folder holding microsip-provision.exe, fleet.toml and users.csv.

.PARAMETER ReportShare
    The folder that collects one report file per computer and user.
#>
[CmdletBinding()]
param(
    [string] $Share = '\\corp\netlogon\microsip',
    [string] $ReportShare = '\\fs01\microsip-reports$'
)

$Exe = Join-Path $Share 'microsip-provision.exe'
$Manifest = Join-Path $Share 'fleet.toml'
$LogDir = Join-Path $env:LOCALAPPDATA 'microsip-provision'
$Log = Join-Path $LogDir 'provision.log'
$Report = Join-Path $ReportShare "$($env:COMPUTERNAME)-$($env:USERNAME).jsonl"

$null = New-Item -ItemType Directory -Force -Path $LogDir
$before = 0
if (Test-Path -LiteralPath $Log) {
    $before = (Get-Item -LiteralPath $Log).Length
}

if (Test-Path -LiteralPath $Exe) {
    # Plan first: MicroSIP is stopped and restarted only when something is to change, so an
    # ordinary logon (exit code 0, nothing pending) leaves the running softphone alone.
    & $Exe plan $Manifest --quiet --exit-code --log-file $Log
    $rc = $LASTEXITCODE
    if ($rc -eq 3) {
        & $Exe apply $Manifest --quiet --if-running stop --log-file $Log
        $rc = $LASTEXITCODE
    }
} else {
    # The tool did not start: say so in a report line of our own, so that the fleet view shows
    # this user as failing.
    $rc = 1
    $line = [ordered]@{
        user    = $env:USERNAME
        profile = Join-Path $env:APPDATA 'MicroSIP'
        outcome = 'failed'
        error   = "the provisioning tool is not at $Exe"
        time    = (Get-Date).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'")
    } | ConvertTo-Json -Compress
    [System.IO.File]::AppendAllText($Log, $line + "`n", (New-Object System.Text.UTF8Encoding $false))
}

# The bytes this run appended to the log (one JSON line), copied as they are to the share.
try {
    $stream = [System.IO.File]::Open($Log, 'Open', 'Read', 'ReadWrite')
    try {
        $null = $stream.Seek($before, 'Begin')
        $buffer = New-Object byte[] ($stream.Length - $before)
        $read = 0
        while ($read -lt $buffer.Length) {
            $n = $stream.Read($buffer, $read, $buffer.Length - $read)
            if ($n -le 0) { break }
            $read += $n
        }
    } finally {
        $stream.Dispose()
    }
    if ($read -gt 0) {
        $out = [System.IO.File]::Open($Report, 'Append', 'Write', 'Read')
        try { $out.Write($buffer, 0, $read) } finally { $out.Dispose() }
    }
} catch {
    # A laptop away from the office cannot reach the share: not an error for the logon.
    Write-Verbose "no report line on the share: $($_.Exception.Message)"
}

exit $rc
