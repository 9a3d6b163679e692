//! Standalone Nexus operations: StartNexusOperationExecution and its family, checked here and
//! routed to the history host of the operation's key (`sundial_common::standalone::nexus_key`).
//! List and count read visibility directly.

use super::*;
use sundial_common::standalone::nexus_key;

/// The history host of the operation's key.
macro_rules! on_operation {
    ($self:ident, $namespace_id:expr, $operation_id:expr, $method:ident, $internal:ident, $req:expr) => {{
        let key = nexus_key($operation_id);
        on_history!(
            $self,
            $namespace_id,
            &key,
            $method,
            hs::$internal {
                namespace_id: $namespace_id.clone(),
                request: Some($req),
            }
        )
        .await
    }};
}

fn operation_id(id: &str) -> Result<(), ServiceError> {
    if id.is_empty() {
        return Err(ServiceError::invalid("operation_id is required"));
    }
    Ok(())
}

fn run_id(id: &str) -> Result<(), ServiceError> {
    if !id.is_empty() && uuid::Uuid::try_parse(id).is_err() {
        return Err(ServiceError::invalid("invalid run id: must be a valid UUID"));
    }
    Ok(())
}

impl ExecutionHandler {
    /// Starts are refused in a deprecated namespace, as workflow starts are.
    pub async fn start_nexus_operation_execution(
        &self,
        mut req: StartNexusOperationExecutionRequest,
    ) -> Res<StartNexusOperationExecutionResponse> {
        let namespace_id = self.ns_in(&req.namespace, STARTING).await?;
        if req.request_id.is_empty() {
            req.request_id = uuid::Uuid::new_v4().to_string();
        }
        v::request_id(&req.request_id)?;
        operation_id(&req.operation_id)?;
        for (value, what) in [
            (&req.endpoint, "endpoint"),
            (&req.service, "service"),
            (&req.operation, "operation"),
        ] {
            if value.is_empty() {
                return Err(ServiceError::invalid(format!("{what} is required")).into());
            }
        }
        v::timeout(&mut req.schedule_to_close_timeout, "ScheduleToCloseTimeout")?;
        v::timeout(&mut req.schedule_to_start_timeout, "ScheduleToStartTimeout")?;
        v::timeout(&mut req.start_to_close_timeout, "StartToCloseTimeout")?;
        self.check_sizes(
            &req.namespace,
            &[("operationId", &req.operation_id), ("identity", &req.identity)],
            &[],
        )?;
        self.check_search_attributes(&req.namespace, req.search_attributes.as_ref())
            .await?;
        let id = req.operation_id.clone();
        on_operation!(
            self,
            &namespace_id,
            &id,
            start_nexus_operation_execution,
            StartNexusOperationExecutionRequest,
            req
        )
    }

    pub async fn describe_nexus_operation_execution(
        &self,
        req: DescribeNexusOperationExecutionRequest,
    ) -> Res<DescribeNexusOperationExecutionResponse> {
        operation_id(&req.operation_id)?;
        if !req.long_poll_token.is_empty() && req.run_id.is_empty() {
            return Err(ServiceError::invalid("run id is required when long poll token is provided").into());
        }
        run_id(&req.run_id)?;
        let namespace_id = self.ns_in(&req.namespace, SERVING).await?;
        let id = req.operation_id.clone();
        on_operation!(
            self,
            &namespace_id,
            &id,
            describe_nexus_operation_execution,
            DescribeNexusOperationExecutionRequest,
            req
        )
    }

    pub async fn poll_nexus_operation_execution(
        &self,
        req: PollNexusOperationExecutionRequest,
    ) -> Res<PollNexusOperationExecutionResponse> {
        operation_id(&req.operation_id)?;
        run_id(&req.run_id)?;
        let namespace_id = self.ns_in(&req.namespace, SERVING).await?;
        let id = req.operation_id.clone();
        on_operation!(
            self,
            &namespace_id,
            &id,
            poll_nexus_operation_execution,
            PollNexusOperationExecutionRequest,
            req
        )
    }

    pub async fn request_cancel_nexus_operation_execution(
        &self,
        req: RequestCancelNexusOperationExecutionRequest,
    ) -> Res<RequestCancelNexusOperationExecutionResponse> {
        operation_id(&req.operation_id)?;
        run_id(&req.run_id)?;
        let namespace_id = self.ns_in(&req.namespace, SERVING).await?;
        let id = req.operation_id.clone();
        on_operation!(
            self,
            &namespace_id,
            &id,
            request_cancel_nexus_operation_execution,
            RequestCancelNexusOperationExecutionRequest,
            req
        )
    }

    pub async fn terminate_nexus_operation_execution(
        &self,
        req: TerminateNexusOperationExecutionRequest,
    ) -> Res<TerminateNexusOperationExecutionResponse> {
        operation_id(&req.operation_id)?;
        run_id(&req.run_id)?;
        let namespace_id = self.ns_in(&req.namespace, SERVING).await?;
        let id = req.operation_id.clone();
        on_operation!(
            self,
            &namespace_id,
            &id,
            terminate_nexus_operation_execution,
            TerminateNexusOperationExecutionRequest,
            req
        )
    }

    pub async fn delete_nexus_operation_execution(
        &self,
        req: DeleteNexusOperationExecutionRequest,
    ) -> Res<DeleteNexusOperationExecutionResponse> {
        operation_id(&req.operation_id)?;
        run_id(&req.run_id)?;
        let namespace_id = self.ns_in(&req.namespace, DELETING).await?;
        let id = req.operation_id.clone();
        on_operation!(
            self,
            &namespace_id,
            &id,
            delete_nexus_operation_execution,
            DeleteNexusOperationExecutionRequest,
            req
        )
    }

    pub async fn list_nexus_operation_executions(
        &self,
        req: ListNexusOperationExecutionsRequest,
    ) -> Res<ListNexusOperationExecutionsResponse> {
        Ok(crate::visibility::list_nexus_operations(&self.registry, self.visibility.as_ref(), req).await?)
    }

    pub async fn count_nexus_operation_executions(
        &self,
        req: CountNexusOperationExecutionsRequest,
    ) -> Res<CountNexusOperationExecutionsResponse> {
        Ok(crate::visibility::count_nexus_operations(&self.registry, self.visibility.as_ref(), req).await?)
    }
}
