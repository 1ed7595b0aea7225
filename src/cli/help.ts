interface HelpSection {
  title?: string;
  body: string;
}

/**
 * cac's help, made to fit one screen: the per-command "For more info" list becomes one
 * usage line, a command's page starts with what it does, examples read as shell lines,
 * and trailing spaces go.
 */
export function tidyHelp(sections: HelpSection[], description?: string): HelpSection[] {
  const moreInfo = sections.findIndex((s) => s.title?.startsWith("For more info"));
  const result = sections.filter((_, i) => i !== moreInfo).map((s) => ({ ...s }));
  // cac lists a command's description only in the global help; say it on the command's own page too.
  if (description) result.splice(1, 0, { body: description });
  for (const section of result) {
    if (moreInfo >= 0 && section.title === "Usage") section.body += "\n  $ framecache <command> --help     options and examples of a command";
    if (section.title === "Examples") section.body = section.body.split("\n").map((line) => `  $ ${line}`).join("\n");
    section.body = section.body.replace(/[ \t]+$/gm, "");
  }
  return result;
}
