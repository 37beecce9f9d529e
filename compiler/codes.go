package compiler

// Diagnostic codes are stable: tests, docs and users' scripts match on them.
const (
	CodeNoRepo         = "E001" // the spec repo does not exist or is not a directory
	CodeEmptyRepo      = "E002" // no .cue files
	CodeFileTooLarge   = "E003" // a spec or referenced file over the size limit
	CodeNotUTF8        = "E004" // a spec or text file that is not UTF-8
	CodeUnreadable     = "E005" // a file that cannot be read
	CodeSyntax         = "E010" // CUE syntax error
	CodePackage        = "E011" // spec files of different CUE packages
	CodeEval           = "E012" // CUE evaluation error (conflicting values …)
	CodeImport         = "E013" // imports are not allowed in specs
	CodeDuplicate      = "E020" // the same object defined in two files
	CodeSchema         = "E030" // type, bound or pattern violation
	CodeMissing        = "E031" // a required field is missing
	CodeUnknownField   = "E032" // a field the schema does not have
	CodeUnknownRef     = "E040" // a reference to an object that does not exist
	CodeWrongTarget    = "E041" // a gate names an eval that evaluates something else
	CodeTemplateSource = "E050" // none or several of template, template_file, messages
	CodeTemplateSyntax = "E051" // malformed {{ }} placeholder
	CodeVarNotInput    = "E052" // a template variable that is not in inputs
	CodeInputNotUsed   = "E053" // an input the template never uses
	CodeLabelAhead     = "E054" // a label names a version newer than the prompt's version
	CodeFileMissing    = "E060" // a referenced file does not exist
	CodeEscape         = "E061" // a path that leaves the repo (.., absolute, symlink)
	CodeBinary         = "E062" // a referenced text file that is binary
	CodeDataset        = "E070" // a malformed dataset row
	CodeDatasetVars    = "E071" // a dataset row without a variable the prompt needs
	CodeRegex          = "E072" // a regex scorer pattern that does not compile
	CodeDeployTarget   = "E080" // a deployment must name exactly one of model, prompt
	CodeAlias          = "E081" // a served alias or label that is not declared
	CodeRollout        = "E082" // an incomplete canary/shadow rollout
	CodeSchedule       = "E083" // a batch deployment without a schedule
	CodeServing        = "E086" // a target that cannot serve what the deployment names
	CodeQuery          = "E085" // an SLI query that cannot be windowed for burn-rate rules
	CodeGlobEmpty      = "E090" // a RAG source path that matches no file
	CodeProvider       = "E095" // a provider that lacks what its kind needs
	CodeCompliance     = "E096" // a compliance declaration that cannot hold (an exemption of a profiling system, an unknown deployment)
	CodeInternal       = "E999" // a bug in cairn: please report it
)
