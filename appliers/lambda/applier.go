package lambda

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/driftless/driftless/appliers"
)

// Kind is the manifest block type this applier owns.
const Kind = "lambda_function"

// Tags the applier puts on functions whose code comes from S3: Lambda does
// not report which object the code came from, so the applier remembers it.
const (
	// TagCodeSource holds "s3://bucket/key" (with "?versionId=V" when
	// s3_object_version is set) of the code last deployed.
	TagCodeSource = "driftless:code-source"
	// TagCodeSHA holds the CodeSha256 that deployment produced, so that
	// code changed outside driftless is noticed as a change.
	TagCodeSHA = "driftless:code-sha256"
)

// API is the part of the Lambda client the applier calls; *lambda.Client
// satisfies it.
type API interface {
	GetFunction(ctx context.Context, in *lambda.GetFunctionInput, optFns ...func(*lambda.Options)) (*lambda.GetFunctionOutput, error)
	GetFunctionConfiguration(ctx context.Context, in *lambda.GetFunctionConfigurationInput, optFns ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error)
	GetAlias(ctx context.Context, in *lambda.GetAliasInput, optFns ...func(*lambda.Options)) (*lambda.GetAliasOutput, error)
	CreateFunction(ctx context.Context, in *lambda.CreateFunctionInput, optFns ...func(*lambda.Options)) (*lambda.CreateFunctionOutput, error)
	UpdateFunctionCode(ctx context.Context, in *lambda.UpdateFunctionCodeInput, optFns ...func(*lambda.Options)) (*lambda.UpdateFunctionCodeOutput, error)
	UpdateFunctionConfiguration(ctx context.Context, in *lambda.UpdateFunctionConfigurationInput, optFns ...func(*lambda.Options)) (*lambda.UpdateFunctionConfigurationOutput, error)
	TagResource(ctx context.Context, in *lambda.TagResourceInput, optFns ...func(*lambda.Options)) (*lambda.TagResourceOutput, error)
	PublishVersion(ctx context.Context, in *lambda.PublishVersionInput, optFns ...func(*lambda.Options)) (*lambda.PublishVersionOutput, error)
	CreateAlias(ctx context.Context, in *lambda.CreateAliasInput, optFns ...func(*lambda.Options)) (*lambda.CreateAliasOutput, error)
	UpdateAlias(ctx context.Context, in *lambda.UpdateAliasInput, optFns ...func(*lambda.Options)) (*lambda.UpdateAliasOutput, error)
}

// AlarmAPI reads CloudWatch alarms; *cloudwatch.Client satisfies it.
type AlarmAPI interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

var (
	_ API      = (*lambda.Client)(nil)
	_ AlarmAPI = (*cloudwatch.Client)(nil)

	_ appliers.Applier = (*Applier)(nil)
)

// Options tune waiting. Zero values take the defaults.
type Options struct {
	// Poll is how often function state and alarms are read while waiting
	// (default 2s).
	Poll time.Duration
	// UpdateTimeout bounds the wait for an update to finish (default 10m).
	UpdateTimeout time.Duration
	// Clock returns the current time (default time.Now).
	Clock func() time.Time
	// Sleep waits for d or until ctx is done (default: a timer).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Applier deploys lambda_function blocks. It is safe for concurrent use by
// several apps at once.
type Applier struct {
	api    API
	alarms AlarmAPI
	opts   Options
	log    *slog.Logger
}

// New returns an applier calling api and alarms. A nil log discards logs.
func New(api API, alarms AlarmAPI, opts Options, log *slog.Logger) *Applier {
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	if opts.UpdateTimeout <= 0 {
		opts.UpdateTimeout = 10 * time.Minute
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Applier{api: api, alarms: alarms, opts: opts, log: log}
}

// Kind returns "lambda_function".
func (a *Applier) Kind() string { return Kind }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ErrRolledBack is wrapped by the error Apply returns when an alarm stopped a
// canary and the alias was put back on the previous version.
var ErrRolledBack = errors.New("rolled back")

// classify marks AWS errors for the reconciler's retry decision: throttling
// and conflicting updates are Transient, requests that cannot succeed as
// written are Stalled. Anything else is returned as is.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var tooMany *types.TooManyRequestsException
	if errors.As(err, &tooMany) {
		after := 5 * time.Second
		if tooMany.RetryAfterSeconds != nil {
			if n, perr := strconv.Atoi(*tooMany.RetryAfterSeconds); perr == nil && n > 0 {
				after = time.Duration(n) * time.Second
			}
		}
		return appliers.Transient(err, after)
	}
	return errorClasses.Classify(err)
}

// errorClasses classifies Lambda and CloudWatch errors: throttling,
// conflicting updates and network errors are Transient (retry after 5s);
// requests that cannot succeed as written are Stalled.
var errorClasses = appliers.AWSClassifier{
	Transient: []string{"ResourceConflictException", "ResourceNotReadyException", "ServiceException", "EC2ThrottledException"},
	Stalled: []string{
		"InvalidParameterValueException", "InvalidParameterCombination", "ValidationException",
		"InvalidZipFileException", "CodeStorageExceededException", "CodeVerificationFailedException",
		"InvalidCodeSignatureException", "RequestTooLargeException", "AccessDeniedException",
		"AccessDeniedExceptionException", "UnsupportedMediaTypeException", "PreconditionFailedException",
		"InvalidRuntimeException", "ResourceNotFoundException", "InvalidClientTokenId",
	},
	After: 5 * time.Second,
}

// wrap adds context and classification to an AWS error.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return classify(fmt.Errorf(format+": %w", append(args, err)...))
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return true
	}
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ResourceNotFoundException"
}
