package compiler

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/cairn-dev/cairn/internal/diag"
)

// FormatVersion is bumped whenever the Bundle's JSON shape changes in a way
// that policies or stored plans could notice.
const FormatVersion = 1

// Position is a place in a user's spec file (see diag.Position).
type Position = diag.Position

// Bundle is the canonical intermediate representation of a spec repo: every
// object with its resolved references, derived facts and source position.
// It is the input document of every policy (under input.bundle).
type Bundle struct {
	FormatVersion int                    `json:"format_version"`
	Project       Project                `json:"project"`
	Providers     map[string]*Provider   `json:"providers"`
	Features      map[string]*Feature    `json:"features"`
	Models        map[string]*Model      `json:"models"`
	Prompts       map[string]*Prompt     `json:"prompts"`
	RAG           map[string]*RAG        `json:"rag"`
	Evals         map[string]*Eval       `json:"evals"`
	SLOs          map[string]*SLO        `json:"slos"`
	Deployments   map[string]*Deployment `json:"deployments"`
	Governance    Governance             `json:"governance"`
	// Compliance declares the AI systems for the compliance policies; nil
	// when the specs declare none.
	Compliance *Compliance `json:"compliance,omitempty"`
	// Gating lists, for every alias and label, the evals that gate it.
	Gating []GateRef `json:"gating"`
	// Files maps each referenced file (templates, datasets, documents) to its sha256.
	Files map[string]string `json:"files"`
	// SecretFindings are credentials found in referenced data files.
	SecretFindings []SecretFinding `json:"secret_findings,omitempty"`

	// FieldPos maps "kind/name" + "." + field path to the position of that field
	// in the user's file ("models/fraud.aliases.prod"). Not part of the JSON:
	// positions do not change what a bundle means.
	FieldPos *FieldPositions `json:"-"`
	// Root is the spec repo's directory on this machine; not part of the JSON.
	Root string `json:"-"`

	pending *pending // counting still under way (Options.DeferCounts)
}

// pending is the work a bundle compiled with DeferCounts still does.
type pending struct {
	wg sync.WaitGroup
	ds diag.List
}

// Settle waits for the token counts of a bundle compiled with DeferCounts
// and returns what went wrong counting them (nothing, for any other bundle).
func (b *Bundle) Settle() diag.List {
	if b == nil || b.pending == nil {
		return nil
	}
	b.pending.wg.Wait()
	ds := slices.Clone(b.pending.ds)
	for i := range ds {
		ds[i].Message = diag.Shorten(diag.Redact(ds[i].Message))
	}
	ds.Sort()
	return ds
}

type Project struct {
	Name         string   `json:"name"`
	Owners       []string `json:"owners"`
	Description  string   `json:"description,omitempty"`
	AlertWebhook string   `json:"alert_webhook,omitempty"`
	Pos          Position `json:"pos"`
}

type RateLimit struct {
	RequestsPerMinute int `json:"requests_per_minute,omitempty"`
	TokensPerMinute   int `json:"tokens_per_minute,omitempty"`
}

type Price struct {
	InputUSDPerMTok  float64 `json:"input_usd_per_mtok"`
	OutputUSDPerMTok float64 `json:"output_usd_per_mtok"`
}

type Provider struct {
	Name           string           `json:"name"`
	Kind           string           `json:"kind"`
	BaseURL        string           `json:"base_url,omitempty"`
	APIKeyEnv      string           `json:"api_key_env"`
	APIVersion     string           `json:"api_version,omitempty"`
	RateLimit      *RateLimit       `json:"rate_limit,omitempty"`
	TimeoutSeconds float64          `json:"timeout_seconds,omitempty"`
	MaxConcurrency int              `json:"max_concurrency,omitempty"`
	Prices         map[string]Price `json:"prices,omitempty"`
	Pos            Position         `json:"pos"`
}

type Quality struct {
	NotNull      *bool    `json:"not_null,omitempty"`
	Min          *float64 `json:"min,omitempty"`
	Max          *float64 `json:"max,omitempty"`
	Allowed      []any    `json:"allowed,omitempty"`
	MaxNullRatio *float64 `json:"max_null_ratio,omitempty"`
}

type Feature struct {
	Name           string   `json:"name"`
	Owner          string   `json:"owner"`
	Entity         string   `json:"entity"`
	Source         string   `json:"source"`
	DType          string   `json:"dtype"`
	Description    string   `json:"description,omitempty"`
	Transformation string   `json:"transformation,omitempty"`
	Freshness      string   `json:"freshness,omitempty"`
	PII            bool     `json:"pii"`
	Quality        *Quality `json:"quality,omitempty"`
	// UsedBy lists the models that read this feature (derived).
	UsedBy []string `json:"used_by"`
	Pos    Position `json:"pos"`
}

type Gate struct {
	Metrics   map[string]string `json:"metrics,omitempty"`
	Evals     []string          `json:"evals,omitempty"`
	Approvals int               `json:"approvals,omitempty"`
	// NotWorseThan bounds how much worse than the version at another alias
	// the moving version may be on computed metrics.
	NotWorseThan *NotWorseThan `json:"not_worse_than,omitempty"`
}

// NotWorseThan: on each computed metric "<eval>.<metric>" in By, the
// challenger may be worse than the version at Alias by at most the margin,
// judged on the 95 % paired bootstrap interval of the difference.
type NotWorseThan struct {
	Alias string             `json:"alias"`
	By    map[string]float64 `json:"by"`
}

// RetrainWhen makes retraining due when the metric of the version at prod
// leaves a bound: below Below, or above Above (exactly one is set). The
// metric is a registered one, or "<eval>.<metric>" computed from the
// version's predictions.
type RetrainWhen struct {
	Metric string   `json:"metric,omitempty"`
	Below  *float64 `json:"below,omitempty"`
	Above  *float64 `json:"above,omitempty"`
	// Alert makes retraining due when an Alertmanager alert of this name
	// whose labels name the model is received (once per alert group and
	// firing).
	Alert string `json:"alert,omitempty"`
}

// Due reports whether value v makes retraining due, with the comparison
// that decided it ("<" or ">") and the bound.
func (rw RetrainWhen) Due(v float64) (op string, bound float64, due bool) {
	if rw.Above != nil {
		return ">", *rw.Above, v > *rw.Above
	}
	if rw.Below != nil {
		return "<", *rw.Below, v < *rw.Below
	}
	return "", 0, false
}

type KubernetesJobTrigger struct {
	Image     string `json:"image"`
	Namespace string `json:"namespace,omitempty"`
}

type TrainingTrigger struct {
	Webhook       string                `json:"webhook,omitempty"`
	KubernetesJob *KubernetesJobTrigger `json:"kubernetes_job,omitempty"`
	// CostUSD is what one triggered retraining costs (declared), for the
	// versions whose job did not register a cost.
	CostUSD float64 `json:"cost_usd,omitempty"`
}

type Training struct {
	Data        string           `json:"data"`
	Window      string           `json:"window,omitempty"`
	Schedule    string           `json:"schedule,omitempty"`
	RetrainWhen *RetrainWhen     `json:"retrain_when,omitempty"`
	Trigger     *TrainingTrigger `json:"trigger,omitempty"`
}

type Explainability struct {
	Method string `json:"method"`
}

type Drift struct {
	Features  []string `json:"features"`
	Method    string   `json:"method"`
	Threshold float64  `json:"threshold"`
}

type Monitoring struct {
	Drift *Drift `json:"drift,omitempty"`
}

type Model struct {
	Name           string            `json:"name"`
	Kind           string            `json:"kind"` // classic | llm
	Owner          string            `json:"owner"`
	Description    string            `json:"description"`
	Domain         string            `json:"domain,omitempty"`
	Risk           string            `json:"risk"`
	Deprecated     string            `json:"deprecated,omitempty"`
	Task           string            `json:"task,omitempty"`
	Framework      string            `json:"framework,omitempty"`
	Features       []string          `json:"features,omitempty"`
	Training       *Training         `json:"training,omitempty"`
	Explainability *Explainability   `json:"explainability,omitempty"`
	Monitoring     *Monitoring       `json:"monitoring,omitempty"`
	Provider       string            `json:"provider,omitempty"`
	ModelID        string            `json:"model_id,omitempty"`
	Aliases        map[string]string `json:"aliases"`
	Gates          map[string]Gate   `json:"gates"`

	// Derived facts.
	PIIFeatures []string `json:"pii_features"` // features marked pii that reach this model
	Sensitive   bool     `json:"sensitive"`    // domain is in governance.sensitive_domains
	ServedBy    []string `json:"served_by"`    // deployments serving this model
	Pos         Position `json:"pos"`
}

type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type PromptModel struct {
	Provider    string  `json:"provider"`
	ID          string  `json:"id"`
	Temperature float64 `json:"temperature"`
	MaxTokens   int     `json:"max_tokens"`
}

type Prompt struct {
	Name         string            `json:"name"`
	Owner        string            `json:"owner"`
	Description  string            `json:"description,omitempty"`
	Version      string            `json:"version"`
	Template     string            `json:"template,omitempty"`
	TemplateFile string            `json:"template_file,omitempty"`
	Disclosure   *Disclosure       `json:"disclosure,omitempty"`
	Messages     []Message         `json:"messages,omitempty"`
	Inputs       []string          `json:"inputs"`
	Model        PromptModel       `json:"model"`
	RAG          string            `json:"rag,omitempty"`
	Labels       map[string]string `json:"labels"`
	Gates        map[string]Gate   `json:"gates"`

	// Derived facts.
	// ContentHash is "sha256:<hex>" over the canonical template, model params and inputs.
	ContentHash string `json:"content_hash"`
	// Variables are the {{ var }} names the template uses, sorted.
	Variables []string `json:"variables"`
	// TemplateTokens is the template's token count in the model's encoding.
	TemplateTokens int      `json:"template_tokens"`
	Encoding       string   `json:"encoding"`
	ServedBy       []string `json:"served_by"`
	Pos            Position `json:"pos"`
}

type RAGSourceFile struct {
	Path           string `json:"path"`
	License        string `json:"license"`
	Classification string `json:"classification"`
	PII            bool   `json:"pii"`
	// Files are the repo-relative files the path (or glob) matched, sorted.
	Files []string `json:"files"`
}

type Chunking struct {
	Size    int `json:"size"`
	Overlap int `json:"overlap"`
}

type Embedding struct {
	Provider string `json:"provider"`
	Model    string `json:"model"`
}

type Retrieval struct {
	TopK int `json:"top_k"`
}

type RAG struct {
	Name        string          `json:"name"`
	Owner       string          `json:"owner"`
	Description string          `json:"description,omitempty"`
	Sources     []RAGSourceFile `json:"sources"`
	Chunking    Chunking        `json:"chunking"`
	Embedding   Embedding       `json:"embedding"`
	Retrieval   Retrieval       `json:"retrieval"`

	// Derived: the most restrictive classification of any source, and whether any carries PII.
	Classification string   `json:"classification"`
	PII            bool     `json:"pii"`
	UsedBy         []string `json:"used_by"` // prompts
	Pos            Position `json:"pos"`
}

type Judge struct {
	Provider string `json:"provider"`
	Model    string `json:"model"`
}

type Metric struct {
	Scorer        string             `json:"scorer"`
	Threshold     float64            `json:"threshold"`
	Aggregate     string             `json:"aggregate"`
	Judge         *Judge             `json:"judge,omitempty"`
	Pattern       string             `json:"pattern,omitempty"`
	Value         string             `json:"value,omitempty"`
	SchemaFile    string             `json:"schema_file,omitempty"`
	CaseThreshold *float64           `json:"case_threshold,omitempty"`
	Scores        map[string]float64 `json:"scores,omitempty"`
	By            string             `json:"by,omitempty"`
	K             int                `json:"k,omitempty"`
}

// Predictions says which columns of a classic eval's predictions file hold
// what (the metrics are computed from it).
type Predictions struct {
	Label         string       `json:"label"`
	Score         string       `json:"score,omitempty"`
	Predicted     string       `json:"predicted,omitempty"`
	Threshold     *float64     `json:"threshold,omitempty"`
	Positive      string       `json:"positive,omitempty"`
	Weight        string       `json:"weight,omitempty"`
	Task          string       `json:"task,omitempty"`
	Slices        []string     `json:"slices,omitempty"`
	Sensitive     []string     `json:"sensitive,omitempty"`
	MinSliceSize  int          `json:"min_slice_size,omitempty"`
	Version       string       `json:"version,omitempty"`
	ID            string       `json:"id,omitempty"`
	Server        *ModelServer `json:"server,omitempty"`
	Classes       []string     `json:"classes,omitempty"`
	Probabilities []string     `json:"probabilities,omitempty"`
	Query         string       `json:"query,omitempty"`
	Tolerance     *float64     `json:"tolerance,omitempty"`
}

type EvalTarget struct {
	Prompt string `json:"prompt,omitempty"`
	Model  string `json:"model,omitempty"`
}

type Eval struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Target      EvalTarget        `json:"target"`
	Dataset     string            `json:"dataset"`
	Predictions *Predictions      `json:"predictions,omitempty"`
	Metrics     map[string]Metric `json:"metrics"`
	Repeats     int               `json:"repeats"`
	MinPasses   int               `json:"min_passes,omitempty"`

	// Derived.
	Cases       int    `json:"cases"`        // rows in the dataset
	DatasetHash string `json:"dataset_hash"` // sha256 of the dataset file
	// TargetModelID is the provider model id the target calls (its prompt's
	// model.id, its model's model_id): what a judge must not be, read off
	// the eval itself, so a policy of the eval alone can tell.
	TargetModelID string   `json:"target_model_id,omitempty"`
	Gates         []string `json:"gates"` // "prompts/x@prod", "models/y@staging"
	Pos           Position `json:"pos"`
}

type SLI struct {
	Kind        string  `json:"kind"` // availability | latency
	Errors      string  `json:"errors,omitempty"`
	Total       string  `json:"total,omitempty"`
	Metric      string  `json:"metric,omitempty"`
	ThresholdMS float64 `json:"threshold_ms,omitempty"`
}

type Budget struct {
	USDPerMonth      *float64 `json:"usd_per_month,omitempty"`
	USDPer1kRequests *float64 `json:"usd_per_1k_requests,omitempty"`
}

type SLO struct {
	Name        string   `json:"name"`
	Deployment  string   `json:"deployment"`
	Description string   `json:"description,omitempty"`
	Objective   float64  `json:"objective"`
	Window      string   `json:"window"`
	SLI         SLI      `json:"sli"`
	Budget      *Budget  `json:"budget,omitempty"`
	Pos         Position `json:"pos"`
}

type Rollout struct {
	Strategy       string        `json:"strategy"`
	Candidate      string        `json:"candidate,omitempty"`
	TrafficPercent *int          `json:"traffic_percent,omitempty"`
	Steps          []RolloutStep `json:"steps,omitempty"`
	Analysis       *Analysis     `json:"analysis,omitempty"`
}

// RolloutStep is one canary step: its traffic share and least duration.
type RolloutStep struct {
	Weight int    `json:"weight"`
	Pause  string `json:"pause"`
}

// Analysis is what decides a canary's steps: PromQL templates and their
// conditions, over a window.
type Analysis struct {
	Window  string                    `json:"window"`
	Metrics map[string]AnalysisMetric `json:"metrics"`
}

// AnalysisMetric is one analysed metric: its query template and conditions.
type AnalysisMetric struct {
	Query        string   `json:"query"`
	Max          *float64 `json:"max,omitempty"`
	Min          *float64 `json:"min,omitempty"`
	MaxIncrease  *float64 `json:"max_increase,omitempty"`
	MaxDecrease  *float64 `json:"max_decrease,omitempty"`
	FailureLimit int      `json:"failure_limit"`
	Samples      string   `json:"samples,omitempty"`
	MinSamples   int      `json:"min_samples,omitempty"`
}

type Autoscaling struct {
	Min    int     `json:"min"`
	Max    int     `json:"max"`
	Metric string  `json:"metric"`
	Target float64 `json:"target"`
}

type Resources struct {
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
	GPU    int    `json:"gpu,omitempty"`
}

// ServingCost is what serving a deployment costs when it is not tokens.
type ServingCost struct {
	USDPerMonth float64 `json:"usd_per_month"`
}

// Disclosure is what tells people they deal with an AI system.
type Disclosure struct {
	Text string `json:"text,omitempty"`
	File string `json:"file,omitempty"`
}

type Traffic struct {
	RequestsPerDay  int `json:"requests_per_day"`
	AvgInputTokens  int `json:"avg_input_tokens,omitempty"`
	AvgOutputTokens int `json:"avg_output_tokens,omitempty"`
}

// Projection is the projected cost of serving a deployment, derived from its
// traffic and the served prompt's or model's price.
type Projection struct {
	ModelID          string  `json:"model_id"`
	InputTokens      int     `json:"input_tokens"`  // per request
	OutputTokens     int     `json:"output_tokens"` // per request
	USDPerRequest    float64 `json:"usd_per_request"`
	USDPer1kRequests float64 `json:"usd_per_1k_requests"`
	USDPerMonth      float64 `json:"usd_per_month"` // 30 days
	PriceSource      string  `json:"price_source"`  // "provider" | "catalog:<date>"
	Error            string  `json:"error,omitempty"`
}

// SecretFinding is a credential found in a data file the specs reference
// (an eval dataset row, a RAG document line): where, and what kind, never
// the secret itself. The no_secrets policy denies each at its position.
type SecretFinding struct {
	Object string `json:"object"` // "evals/x" or "rag/y"
	Field  string `json:"field"`  // "dataset" or "sources"
	File   string `json:"file"`
	Line   int    `json:"line"`
	Col    int    `json:"col"`
	Kind   string `json:"kind"`
}

type Deployment struct {
	Name        string `json:"name"`
	Model       string `json:"model,omitempty"`
	Prompt      string `json:"prompt,omitempty"`
	Description string `json:"description,omitempty"`
	Target      string `json:"target"`
	Namespace   string `json:"namespace"`
	Alias       string `json:"alias"`
	Exposure    string `json:"exposure"` // internal | public
	// InteractsWithPeople false: no AI disclosure needed (nil: it does).
	InteractsWithPeople *bool        `json:"interacts_with_people,omitempty"`
	Image               string       `json:"image,omitempty"`
	Rollout             Rollout      `json:"rollout"`
	Autoscaling         *Autoscaling `json:"autoscaling,omitempty"`
	Resources           *Resources   `json:"resources,omitempty"`
	Traffic             *Traffic     `json:"traffic,omitempty"`
	Cost                *ServingCost `json:"cost,omitempty"`
	Schedule            string       `json:"schedule,omitempty"`

	// Derived.
	Kind       string      `json:"kind"`    // "classic" | "llm": what is served
	Version    string      `json:"version"` // the version the alias/label names in git
	SLOs       []string    `json:"slos"`
	RAG        []string    `json:"rag"` // rag sources feeding the served prompt
	Projection *Projection `json:"projection,omitempty"`
	Pos        Position    `json:"pos"`
}

type Waiver struct {
	Policy   string   `json:"policy"`
	Target   string   `json:"target"`
	Reason   string   `json:"reason"`
	Approver string   `json:"approver"`
	Expires  string   `json:"expires"`
	Pos      Position `json:"pos"`
}

type Governance struct {
	SensitiveDomains []string `json:"sensitive_domains"`
	MaxWaiverDays    int      `json:"max_waiver_days"`
	// RequireJudgedScorers makes prod gates use a judge for factuality and
	// toxicity (policy judged_prod_gates).
	RequireJudgedScorers bool     `json:"require_judged_scorers,omitempty"`
	Waivers              []Waiver `json:"waivers"`
	// OperatingMetrics configures cairn metrics.
	OperatingMetrics *OperatingMetrics `json:"operating_metrics,omitempty"`
	Pos              Position          `json:"pos"`
}

// Compliance is the spec's compliance block (#Compliance).
type Compliance struct {
	Frameworks           []string           `json:"frameworks"`
	Dates                string             `json:"dates"` // enacted | omnibus
	FinancialInstitution bool               `json:"financial_institution"`
	MaxLogGap            string             `json:"max_log_gap,omitempty"` // "": 48h
	Systems              map[string]*System `json:"systems"`
}

// System is one AI system: the deployments that make it up and what the
// AI Act asks of it.
type System struct {
	Name             string       `json:"name"`
	Deployments      []string     `json:"deployments"`
	Role             string       `json:"role"`      // provider | deployer | both
	AnnexIII         string       `json:"annex_iii"` // 4a | 4b | 5b | 5c | not_listed
	Exemption63      *Exemption63 `json:"exemption_6_3,omitempty"`
	Profiling        bool         `json:"profiling"`
	ProductComponent bool         `json:"product_component"`
	IntendedPurpose  string       `json:"intended_purpose,omitempty"`
	Oversight        *Oversight   `json:"oversight,omitempty"`
	Responsible      []string     `json:"responsible,omitempty"`
	ServingLog       *ServingLog  `json:"serving_log,omitempty"`
	Files            SystemFiles  `json:"files"`
	// Derived.
	HighRisk bool     `json:"high_risk"` // listed in Annex III and not exempted
	Pos      Position `json:"pos"`
}

type Exemption63 struct {
	AssessmentFile string `json:"assessment_file"`
}

// ServingLog says where a system's per-use log is kept, and for how long.
type ServingLog struct {
	Location      string `json:"location"`
	RetentionDays int    `json:"retention_days"`
}

type Oversight struct {
	Who      string `json:"who"`
	Override string `json:"override"`
	Stop     string `json:"stop"`
}

type SystemFiles struct {
	InstructionsForUse string `json:"instructions_for_use,omitempty"`
	FRIA               string `json:"fria,omitempty"`
	PostMarketPlan     string `json:"post_market_plan,omitempty"`
	IncidentRegister   string `json:"incident_register,omitempty"`
}

// OperatingMetrics configures the operating metrics.
type OperatingMetrics struct {
	FailureWindow string `json:"failure_window"` // a Go duration
}

// GateRef says that an eval gates an alias (of a model) or label (of a prompt).
type GateRef struct {
	Object string `json:"object"` // "prompts/support-answer"
	Alias  string `json:"alias"`  // alias or label name
	Eval   string `json:"eval"`
}

func (b *Bundle) addSecret(f SecretFinding) {
	i := len(b.SecretFindings)
	b.SecretFindings = append(b.SecretFindings, f)
	if b.FieldPos == nil {
		b.FieldPos = &FieldPositions{}
	}
	b.FieldPos.Set(fmt.Sprintf("%s.secret_findings[%d]", f.Object, i), Position{File: f.File, Line: f.Line, Col: f.Col})
}

// SecretsIn returns the credentials found in what the named objects send to
// a provider or an index: the data files the compiler scanned (eval
// datasets, RAG documents) and, for prompts, their template and messages.
// Commands that send data out (eval, rag build) refuse when it is not empty,
// as plan and apply refuse the no_secrets denial.
func (b *Bundle) SecretsIn(objects ...string) []SecretFinding {
	var out []SecretFinding
	for _, obj := range objects {
		for _, f := range b.SecretFindings {
			if f.Object == obj {
				out = append(out, f)
			}
		}
		kind, name, _ := strings.Cut(obj, "/")
		p := b.Prompts[name]
		if kind != "prompts" || p == nil {
			continue
		}
		texts := map[string]string{"template": p.Template}
		for i, m := range p.Messages {
			texts[fmt.Sprintf("messages.%d.content", i)] = m.Content
		}
		for _, field := range slices.Sorted(maps.Keys(texts)) {
			if k, _ := diag.SecretKind(texts[field]); k != "" {
				pos := b.Position(obj + "." + field)
				if !pos.IsValid() {
					pos = p.Pos
				}
				out = append(out, SecretFinding{Object: obj, Field: field, File: pos.File, Line: pos.Line, Col: pos.Col, Kind: k})
			}
		}
	}
	return out
}

func (f SecretFinding) String() string {
	return fmt.Sprintf("%s:%d:%d: %s %s contains what looks like %s", f.File, f.Line, f.Col, f.Object, f.Field, f.Kind)
}

// ModelServer is an Open Inference Protocol (KServe v2) server a classic
// eval scores its feature rows on.
type ModelServer struct {
	URL            string   `json:"url"`
	Model          string   `json:"model"`
	Versioned      bool     `json:"versioned,omitempty"`
	Inputs         []string `json:"inputs"`
	Tensor         string   `json:"tensor,omitempty"`
	InputName      string   `json:"input_name,omitempty"`
	Output         string   `json:"output,omitempty"`
	BatchSize      int      `json:"batch_size,omitempty"`
	Concurrency    int      `json:"concurrency,omitempty"`
	TimeoutSeconds float64  `json:"timeout_seconds,omitempty"`
	MaxRetries     *int     `json:"max_retries,omitempty"`
}
