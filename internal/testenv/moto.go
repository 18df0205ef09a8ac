package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// MotoRegion is the region MotoServer's clients use.
const MotoRegion = "us-east-1"

// MotoServer is a moto_server (AWS emulator) shared by a test binary.
type MotoServer struct {
	Endpoint string // http://127.0.0.1:PORT
}

var (
	motoOnce sync.Once
	motoSrv  *MotoServer
	motoErr  error
	motoSkip string

	procsMu sync.Mutex
	procs   []*exec.Cmd
)

// Moto returns the test binary's moto_server, starting it on first use
// (MOTO_ECS_SERVICE_RUNNING=1, 127.0.0.1, a free port). It keeps running
// until RunMain stops it when the tests end; a test binary using Moto should
// have `func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }` (without
// it, moto dies with the test binary: it gets SIGKILL when its parent exits).
func Moto(t testing.TB) *MotoServer {
	t.Helper()
	motoOnce.Do(func() {
		path, err := exec.LookPath("moto_server")
		if err != nil {
			motoSkip = "moto_server not on PATH"
			return
		}
		motoSrv, motoErr = startMoto(path)
	})
	if motoSkip != "" {
		Unavailable(t, motoSkip)
	}
	if motoErr != nil {
		t.Fatalf("starting moto_server: %v", motoErr)
	}
	return motoSrv
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startMoto(path string) (*MotoServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "MOTO_ECS_SERVICE_RUNNING=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	track(cmd)
	m := &MotoServer{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port)}
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		resp, err := client.Get(m.Endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return m, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop(cmd)
	return nil, fmt.Errorf("moto_server did not answer on %s within 30s", m.Endpoint)
}

// track records a process started by testenv, for RunMain to stop.
func track(cmd *exec.Cmd) {
	procsMu.Lock()
	defer procsMu.Unlock()
	procs = append(procs, cmd)
}

// stop ends a process group started by testenv: SIGTERM, then SIGKILL.
func stop(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
}

// StopAll stops every process testenv started.
func StopAll() {
	procsMu.Lock()
	ps := procs
	procs = nil
	procsMu.Unlock()
	for _, p := range ps {
		stop(p)
	}
}

// RunMain runs the tests, then stops every process testenv started. Use it
// as `func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }`.
func RunMain(m *testing.M) int {
	defer StopAll()
	return m.Run()
}

// Reset clears all of moto's state.
func (m *MotoServer) Reset(t testing.TB) {
	t.Helper()
	resp, err := http.Post(m.Endpoint+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("resetting moto: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("resetting moto: %s", resp.Status)
	}
}

// AWSConfig is an aws-sdk-go-v2 config for this moto: region us-east-1,
// static credentials test/test, base endpoint Endpoint. S3 clients also
// need o.UsePathStyle = true.
func (m *MotoServer) AWSConfig(t testing.TB) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(MotoRegion),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		config.WithBaseEndpoint(m.Endpoint),
	)
	if err != nil {
		t.Fatalf("aws config: %v", err)
	}
	return cfg
}

// CreateStateBackend creates an S3 bucket for Terraform state and a
// DynamoDB lock table (hash key LockID, a string).
func (m *MotoServer) CreateStateBackend(t testing.TB, bucket, table string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := m.AWSConfig(t)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("creating state bucket %s: %v", bucket, err)
	}
	ddb := dynamodb.NewFromConfig(cfg)
	_, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("LockID"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("LockID"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("creating lock table %s: %v", table, err)
	}
}
