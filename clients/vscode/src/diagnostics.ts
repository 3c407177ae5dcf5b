// The host's problems to guests and back into a guest's Problems (docs/protocol.md
// §10.3): VS Code's diagnostics converted to the message's records and back.

import * as vscode from "vscode";

import type { Diagnostic, Severity } from "../../web/core/diagnostics.js";

const TO_SEVERITY: Record<vscode.DiagnosticSeverity, Severity> = {
  [vscode.DiagnosticSeverity.Error]: "error",
  [vscode.DiagnosticSeverity.Warning]: "warning",
  [vscode.DiagnosticSeverity.Information]: "information",
  [vscode.DiagnosticSeverity.Hint]: "hint",
};

const FROM_SEVERITY: Record<Severity, vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  information: vscode.DiagnosticSeverity.Information,
  hint: vscode.DiagnosticSeverity.Hint,
};

/** VS Code's diagnostics of a document as §10.3 records. */
export function toRecords(diagnostics: readonly vscode.Diagnostic[]): Diagnostic[] {
  return diagnostics.map((diagnostic) => {
    const { start, end } = diagnostic.range;
    const code = typeof diagnostic.code === "object" ? diagnostic.code.value : diagnostic.code;
    return {
      range: { startLine: start.line, startCharacter: start.character, endLine: end.line, endCharacter: end.character },
      severity: TO_SEVERITY[diagnostic.severity],
      message: diagnostic.message,
      ...(diagnostic.source !== undefined ? { source: diagnostic.source } : {}),
      ...(code !== undefined ? { code } : {}),
    };
  });
}

/** §10.3 records as VS Code diagnostics, marked as the host's. */
export function fromRecords(records: readonly Diagnostic[], hostName: string): vscode.Diagnostic[] {
  return records.map((record) => {
    const { startLine, startCharacter, endLine, endCharacter } = record.range;
    const diagnostic = new vscode.Diagnostic(
      new vscode.Range(startLine, startCharacter, endLine, endCharacter),
      record.message,
      FROM_SEVERITY[record.severity],
    );
    diagnostic.source = `${record.source ?? "host"} (${hostName}'s)`;
    if (record.code !== undefined) diagnostic.code = record.code;
    return diagnostic;
  });
}
